from collections.abc import Iterable
from typing import Self
from uuid import UUID

import strawberry
from strawberry import relay

from okr_service.graphql.context import Info
from okr_service.graphql.nodes import parse_uuid
from okr_service.kit.principal import Role, Scope
from okr_service.organizations import service


@strawberry.type(
    description="A customer of the service (a tenant): every team, cycle and OKR belongs to "
    "exactly one organization, and nothing crosses from one to another."
)
class Organization(relay.Node):
    id: relay.NodeID[UUID]
    name: str = strawberry.field(description="The organization's display name.")

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        """Only the caller's own organization: another tenant's ID is null, as if unknown."""
        own = info.context.principal.organization_id
        ids = [parse_uuid(node_id) for node_id in node_ids]
        if own not in ids:
            return [None for _ in ids]
        name = await info.context.run(lambda db: service.organization_name(db, own))
        return [cls(id=own, name=name or "") if id_ == own else None for id_ in ids]


@strawberry.type(description="Who is calling.")
class Viewer:
    organization: Organization = strawberry.field(description="The caller's organization.")
    scopes: list[Scope] = strawberry.field(
        description="What the caller's API key may do (every scope its highest one grants)."
    )
    role: Role = strawberry.field(
        description="VIEWER reads; EDITOR writes the OKRs of its teams and the teams below "
        "them (a WRITE API key: of every team); ADMIN does everything."
    )
    actor_name: str = strawberry.field(
        description="The name of the API key in use, or of the signed-in user."
    )


async def load_viewer(info: Info) -> Viewer:
    principal = info.context.principal
    name = await info.context.run(
        lambda db: service.organization_name(db, principal.organization_id)
    )
    return Viewer(
        organization=Organization(id=principal.organization_id, name=name or ""),
        scopes=sorted(principal.scopes),
        role=principal.role,
        actor_name=principal.actor_name,
    )
