from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.organizations.models import Organization


async def organization_name(db: AsyncSession, organization_id: UUID) -> str | None:
    found: str | None = await db.scalar(
        select(Organization.name).where(Organization.id == organization_id)
    )
    return found


async def find_by_name(db: AsyncSession, name: str) -> Organization | None:
    return (
        await db.execute(select(Organization).where(Organization.name == name).limit(1))
    ).scalar_one_or_none()
