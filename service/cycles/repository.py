from typing import Any
from uuid import UUID

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from service.cycles.models import Cycle
from service.kit.repository import rows_grouped_by
from service.objectives.models import Objective


async def children(
    db: AsyncSession, organization_id: UUID, cycle_ids: list[UUID]
) -> dict[UUID, list[Row[Any]]]:
    return await rows_grouped_by(db, Cycle, organization_id, "parent_id", cycle_ids)


async def objectives_of_cycles(
    db: AsyncSession, organization_id: UUID, cycle_ids: list[UUID]
) -> dict[UUID, list[Row[Any]]]:
    return await rows_grouped_by(db, Objective, organization_id, "cycle_id", cycle_ids)
