from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.cycles.models import Cycle
from service.key_results.models import KeyResult
from service.kit.repository import Page, Window, equal_where_given, page, rows_grouped_by
from service.objectives.models import Objective
from service.okr.enums import CycleState


async def children(
    db: AsyncSession, organization_id: UUID, cycle_ids: list[UUID]
) -> dict[UUID, list[Row[Any]]]:
    return await rows_grouped_by(db, Cycle, organization_id, "parent_id", cycle_ids)


async def objectives_of_cycles(
    db: AsyncSession, organization_id: UUID, cycle_ids: list[UUID]
) -> dict[UUID, list[Row[Any]]]:
    return await rows_grouped_by(db, Objective, organization_id, "cycle_id", cycle_ids)


async def children_span(
    db: AsyncSession, organization_id: UUID, cycle_id: UUID
) -> tuple[date | None, date | None]:
    """The earliest start and latest end of the cycles nested directly in `cycle_id`."""
    row = (
        await db.execute(
            select(func.min(Cycle.starts_on), func.max(Cycle.ends_on)).where(
                Cycle.organization_id == organization_id, Cycle.parent_id == cycle_id
            )
        )
    ).one()
    return row[0], row[1]


async def objectives_of_cycle(
    db: AsyncSession,
    organization_id: UUID,
    cycle_id: UUID,
    *,
    team_ids: Sequence[UUID] | None = None,
    lock: bool = False,
) -> Sequence[Objective]:
    """The cycle's objectives in key order (of `team_ids` only, when given)."""
    statement = select(Objective).where(
        Objective.organization_id == organization_id, Objective.cycle_id == cycle_id
    )
    if team_ids is not None:
        statement = statement.where(Objective.team_id.in_(team_ids))
    if lock:
        statement = statement.with_for_update()
    return (await db.scalars(statement.order_by(Objective.id))).all()


async def key_results_of_cycle(
    db: AsyncSession, organization_id: UUID, cycle_id: UUID
) -> Sequence[KeyResult]:
    """The cycle's key results, locked: their scores are about to be frozen."""
    return (
        await db.scalars(
            select(KeyResult)
            .join(
                Objective,
                (Objective.organization_id == KeyResult.organization_id)
                & (Objective.id == KeyResult.objective_id),
            )
            .where(KeyResult.organization_id == organization_id, Objective.cycle_id == cycle_id)
            .order_by(KeyResult.id)
            .with_for_update(of=KeyResult)
        )
    ).all()


async def list_cycles(
    db: AsyncSession, organization_id: UUID, window: Window, *, state: CycleState | None = None
) -> Page:
    return await page(db, Cycle, organization_id, window, equal_where_given((Cycle.state, state)))
