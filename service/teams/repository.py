from typing import Any
from uuid import UUID

from sqlalchemy import Row, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.kit.repository import rows_grouped_by
from service.objectives.models import Objective
from service.teams.models import Team


async def is_ancestor_or_self(
    db: AsyncSession, organization_id: UUID, candidate: UUID, team_id: UUID
) -> bool:
    """Whether `candidate` is `team_id` or one of its ancestors (walks up the tree once)."""
    up = (
        select(Team.id, Team.parent_id)
        .where(Team.organization_id == organization_id, Team.id == team_id)
        .cte("up", recursive=True)
    )
    up = up.union(
        select(Team.id, Team.parent_id).where(
            Team.organization_id == organization_id, Team.id == up.c.parent_id
        )
    )
    found = await db.execute(select(literal(True)).where(up.c.id == candidate).limit(1))
    return found.scalar_one_or_none() is not None


async def children(
    db: AsyncSession, organization_id: UUID, team_ids: list[UUID]
) -> dict[UUID, list[Row[Any]]]:
    return await rows_grouped_by(db, Team, organization_id, "parent_id", team_ids)


async def objectives_of_teams(
    db: AsyncSession, organization_id: UUID, team_ids: list[UUID]
) -> dict[UUID, list[Row[Any]]]:
    return await rows_grouped_by(db, Objective, organization_id, "team_id", team_ids)
