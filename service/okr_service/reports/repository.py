"""The reads behind cycle reports and quality checks: a fixed number of statements each."""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.alignment.models import AlignmentLink
from okr_service.cycles.models import Cycle
from okr_service.key_results.models import CheckIn, KeyResult
from okr_service.kit.repository import any_ids
from okr_service.objectives.models import Objective
from okr_service.okr.enums import AlignmentKind, CycleState
from okr_service.teams.models import Team


async def teams(db: AsyncSession, organization_id: UUID) -> Sequence[Team]:
    """Every team of the organization: trees are small, and the report needs their shape."""
    return (await db.scalars(select(Team).where(Team.organization_id == organization_id))).all()


async def last_check_in_times(
    db: AsyncSession, organization_id: UUID, key_result_ids: Sequence[UUID]
) -> dict[UUID, datetime]:
    rows = await db.execute(
        select(CheckIn.key_result_id, func.max(CheckIn.checked_at))
        .where(
            CheckIn.organization_id == organization_id,
            CheckIn.key_result_id == any_ids(key_result_ids),
        )
        .group_by(CheckIn.key_result_id)
    )
    return dict(rows.all())


async def contribution_counts(
    db: AsyncSession, organization_id: UUID, objective_ids: Sequence[UUID]
) -> dict[UUID, int]:
    """How many things each objective contributes to."""
    rows = await db.execute(
        select(AlignmentLink.source_objective_id, func.count())
        .where(
            AlignmentLink.organization_id == organization_id,
            AlignmentLink.kind == AlignmentKind.CONTRIBUTES_TO,
            AlignmentLink.source_objective_id == any_ids(objective_ids),
        )
        .group_by(AlignmentLink.source_objective_id)
    )
    return dict(rows.all())


async def closed_cycle_results(
    db: AsyncSession, organization_id: UUID, team_ids: Sequence[UUID], last: int
) -> dict[UUID, list[tuple[int, int]]]:
    """Per team, (achieved, total) key results of its `last` most recent closed cycles.

    A key result counts as achieved when its frozen score reached 1.
    """
    per_cycle = (
        select(
            KeyResult.team_id,
            Cycle.id.label("cycle_id"),
            Cycle.ends_on,
            func.count().filter(KeyResult.final_score >= 1).label("achieved"),
            func.count().label("total"),
            func.row_number()
            .over(partition_by=KeyResult.team_id, order_by=Cycle.ends_on.desc())
            .label("recency"),
        )
        .join(
            Objective,
            (Objective.organization_id == KeyResult.organization_id)
            & (Objective.id == KeyResult.objective_id),
        )
        .join(
            Cycle,
            (Cycle.organization_id == Objective.organization_id) & (Cycle.id == Objective.cycle_id),
        )
        .where(
            KeyResult.organization_id == organization_id,
            KeyResult.team_id.in_(team_ids),
            Cycle.state == CycleState.CLOSED,
        )
        .group_by(KeyResult.team_id, Cycle.id, Cycle.ends_on)
        .subquery()
    )
    rows = await db.execute(
        select(per_cycle.c.team_id, per_cycle.c.achieved, per_cycle.c.total)
        .where(per_cycle.c.recency <= last)
        .order_by(per_cycle.c.team_id, per_cycle.c.recency)
    )
    results: dict[UUID, list[tuple[int, int]]] = {}
    for team_id, achieved, total in rows:
        results.setdefault(team_id, []).append((achieved, total))
    return results
