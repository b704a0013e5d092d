from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.kit.repository import ChildRows, Page, Window, page, rows_grouped_by
from okr_service.kit.rows import Record
from okr_service.objectives.models import Objective
from okr_service.teams.models import Team

# A team's lists, paged per team (creation order).
CHILDREN = ChildRows(Team, "parent_id")
OBJECTIVES = ChildRows(Objective, "team_id")


async def children(
    db: AsyncSession, organization_id: UUID, team_ids: list[UUID]
) -> dict[UUID, list[Record]]:
    return await rows_grouped_by(db, Team, organization_id, "parent_id", team_ids)


async def objectives_of_teams(
    db: AsyncSession, organization_id: UUID, team_ids: list[UUID]
) -> dict[UUID, list[Record]]:
    return await rows_grouped_by(db, Objective, organization_id, "team_id", team_ids)


async def list_teams(
    db: AsyncSession,
    organization_id: UUID,
    window: Window,
    *,
    parent_id: UUID | None = None,
    roots_only: bool = False,
) -> Page:
    """Teams in creation order: one team's children, or only the roots."""
    filters = []
    if parent_id is not None:
        filters.append(Team.parent_id == parent_id)
    elif roots_only:
        filters.append(Team.parent_id.is_(None))
    return await page(db, Team, organization_id, window, filters)
