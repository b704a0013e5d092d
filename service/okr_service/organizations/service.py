from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.auth.service import create_api_key
from okr_service.kit.principal import Principal, Scope, effective_scopes
from okr_service.kit.validation import Problems
from okr_service.organizations import repository
from okr_service.organizations.models import Organization


async def create_organization(
    db: AsyncSession, name: str, *, key_name: str = "admin"
) -> tuple[Organization, str]:
    """A new tenant and the clear text of its first admin API key."""
    problems = Problems()
    name = problems.name("name", name) or ""
    problems.raise_if_any()
    organization = Organization(name=name)
    db.add(organization)
    await db.flush()
    _, secret = await create_api_key(db, organization.id, key_name, [Scope.ADMIN])
    return organization, secret


def system_principal(organization_id: UUID, name: str) -> Principal:
    """The actor of changes the service makes itself (demo data, command line)."""
    return Principal(
        organization_id=organization_id,
        scopes=effective_scopes([Scope.ADMIN]),
        actor_id=organization_id,
        actor_name=name,
        actor_type="system",
    )


# Reads the GraphQL layer batches through its loaders (one statement per batch of keys).
organization_name = repository.organization_name
