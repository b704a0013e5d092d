import strawberry

from service.graphql.context import Info
from service.kit.ids import global_id
from service.kit.principal import Role, Scope
from service.organizations import service


@strawberry.type(description="A customer: every object belongs to exactly one organization.")
class Organization:
    id: strawberry.ID
    name: str


@strawberry.type(description="Who is calling.")
class Viewer:
    organization: Organization
    scopes: list[Scope]
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
        organization=Organization(
            id=strawberry.ID(global_id("Organization", principal.organization_id)), name=name or ""
        ),
        scopes=sorted(principal.scopes),
        role=principal.role,
        actor_name=principal.actor_name,
    )
