from typing import Any
from uuid import UUID

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from service.kit.repository import rows_grouped_by
from service.objectives.models import Objective
from service.teams.models import Team


async def children(
    db: AsyncSession, organization_id: UUID, team_ids: list[UUID]
) -> dict[UUID, list[Row[Any]]]:
    return await rows_grouped_by(db, Team, organization_id, "parent_id", team_ids)


async def objectives_of_teams(
    db: AsyncSession, organization_id: UUID, team_ids: list[UUID]
) -> dict[UUID, list[Row[Any]]]:
    return await rows_grouped_by(db, Objective, organization_id, "team_id", team_ids)
