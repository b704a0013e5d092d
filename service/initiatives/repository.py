from typing import Any
from uuid import UUID

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.initiatives.models import InitiativeKeyResult
from service.kit.repository import rows_grouped_by


async def links_of(
    db: AsyncSession, organization_id: UUID, initiative_ids: list[UUID]
) -> dict[UUID, list[Row[Any]]]:
    return await rows_grouped_by(
        db, InitiativeKeyResult, organization_id, "initiative_id", initiative_ids
    )


async def find_link(
    db: AsyncSession, organization_id: UUID, initiative_id: UUID, key_result_id: UUID
) -> InitiativeKeyResult | None:
    return (
        await db.execute(
            select(InitiativeKeyResult).where(
                InitiativeKeyResult.organization_id == organization_id,
                InitiativeKeyResult.initiative_id == initiative_id,
                InitiativeKeyResult.key_result_id == key_result_id,
            )
        )
    ).scalar_one_or_none()
