import strawberry
from sqlalchemy import select

from service.auth.service import Scope
from service.graphql.context import Info
from service.kit.ids import global_id
from service.organizations.models import Organization as OrganizationModel


@strawberry.type(description="A customer: every object belongs to exactly one organization.")
class Organization:
    id: strawberry.ID
    name: str


@strawberry.type(description="Who is calling.")
class Viewer:
    organization: Organization
    scopes: list[Scope]
    actor_name: str = strawberry.field(description="The name of the API key in use.")


async def load_viewer(info: Info) -> Viewer:
    principal = info.context.principal
    name = await info.context.run(
        lambda db: db.scalar(
            select(OrganizationModel.name).where(OrganizationModel.id == principal.organization_id)
        )
    )
    return Viewer(
        organization=Organization(
            id=strawberry.ID(global_id("Organization", principal.organization_id)), name=name or ""
        ),
        scopes=sorted(principal.scopes),
        actor_name=principal.actor_name,
    )
