from typing import Any
from uuid import UUID

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from service.initiatives.models import InitiativeKeyResult
from service.kit.repository import rows_grouped_by


async def links_of(
    db: AsyncSession, organization_id: UUID, initiative_ids: list[UUID]
) -> dict[UUID, list[Row[Any]]]:
    return await rows_grouped_by(
        db, InitiativeKeyResult, organization_id, "initiative_id", initiative_ids
    )
