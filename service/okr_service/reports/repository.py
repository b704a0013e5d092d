"""The reads behind cycle reports and quality checks: a fixed number of statements each."""

from collections.abc import Sequence
from functools import cache
from typing import Any
from uuid import UUID

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.cycles.models import Cycle
from okr_service.key_results.models import KeyResult
from okr_service.kit.rows import Record, as_list, columns, fetch, select_where
from okr_service.objectives.models import Objective
from okr_service.okr.enums import AlignmentKind, CycleState
from okr_service.teams.models import Team

_TEAMS: Table = Team.__table__  # type: ignore[assignment]
_OBJECTIVES: Table = Objective.__table__  # type: ignore[assignment]
_KEY_RESULTS: Table = KeyResult.__table__  # type: ignore[assignment]
_ALL_TEAMS = select_where(_TEAMS, "WHERE organization_id = $1")
# What the cycle review reads of objectives and key results (the rest of a key result is
# read for the page of them it shows), numbers as floats: its figures compute with floats.
REPORTED_OBJECTIVE = ("id", "team_id", "kind", "state")
MEASURED_KEY_RESULT = (
    "id",
    "objective_id",
    "team_id",
    "metric",
    "direction",
    "start_value",
    "target_value",
    "current_value",
    "health",
    "health_manual",
    "final_score",
)
# What a report counts of them comes alongside, from subselects on the indexes that end in
# the counted columns. S608: SQL built from the models' names at import; no input.
_CONTRIBUTES_TO_COUNT = (
    "(SELECT count(*) FROM alignment_links a"  # noqa: S608
    " WHERE a.organization_id = o.organization_id AND a.source_objective_id = o.id"
    f" AND a.kind = '{AlignmentKind.CONTRIBUTES_TO.name}')"
)
_LAST_CHECKED_AT = (
    "(SELECT max(c.checked_at) FROM check_ins c"
    " WHERE c.organization_id = k.organization_id AND c.key_result_id = k.id)"
)
_OF_OBJECTIVES = (
    " FROM key_results k JOIN objectives o"
    " ON o.organization_id = k.organization_id AND o.id = k.objective_id"
)


async def teams(db: AsyncSession, organization_id: UUID) -> list[Record]:
    """Every team of the organization: trees are small, and the report needs their shape."""
    return await fetch(db, _TEAMS, _ALL_TEAMS, organization_id)


async def objectives_of_cycle(
    db: AsyncSession,
    organization_id: UUID,
    cycle_id: UUID,
    team_ids: Sequence[UUID] | None,
    *,
    only: tuple[str, ...] | None = None,
) -> list[Record]:
    """The cycle's objectives in key order (of `team_ids` only, when given; their `only`
    columns when given), each with how many things it contributes to
    (`contributes_to_count`)."""
    sql = _objectives_sql(only, subtree=team_ids is not None)
    arguments = _cycle_arguments(organization_id, cycle_id, team_ids)
    return await fetch(db, _OBJECTIVES, sql, *arguments, extra=("contributes_to_count",), only=only)


async def key_results_of_cycle(
    db: AsyncSession,
    organization_id: UUID,
    cycle_id: UUID,
    team_ids: Sequence[UUID] | None,
    *,
    only: tuple[str, ...] | None = None,
) -> list[Record]:
    """The key results of the cycle's objectives in key order (of the objectives of
    `team_ids` only, when given; their `only` columns, numbers as floats, when given), each
    with the time of its last check-in (`last_checked_at`, None before the first)."""
    sql = _key_results_sql(only, subtree=team_ids is not None)
    arguments = _cycle_arguments(organization_id, cycle_id, team_ids)
    return await fetch(db, _KEY_RESULTS, sql, *arguments, extra=("last_checked_at",), only=only)


@cache
def _objectives_sql(only: tuple[str, ...] | None, *, subtree: bool) -> str:
    selected = columns(_OBJECTIVES, "o", only, numbers_as_floats=only is not None)
    return _in_cycle(
        f"SELECT {selected}, {_CONTRIBUTES_TO_COUNT} FROM objectives o",  # noqa: S608
        "o.id",
        subtree=subtree,
    )


@cache
def _key_results_sql(only: tuple[str, ...] | None, *, subtree: bool) -> str:
    selected = columns(_KEY_RESULTS, "k", only, numbers_as_floats=only is not None)
    return _in_cycle(
        f"SELECT {selected}, {_LAST_CHECKED_AT}{_OF_OBJECTIVES}", "k.id", subtree=subtree
    )


def _in_cycle(select_from: str, order_by: str, *, subtree: bool) -> str:
    """`select_from` (objectives aliased `o`) of one cycle, of a set of teams when `subtree`."""
    where = "WHERE o.organization_id = $1 AND o.cycle_id = $2"
    if subtree:
        where += " AND o.team_id = ANY($3::uuid[])"
    return f"{select_from} {where} ORDER BY {order_by}"


def _cycle_arguments(
    organization_id: UUID, cycle_id: UUID, team_ids: Sequence[UUID] | None
) -> tuple[Any, ...]:
    if team_ids is None:
        return organization_id, cycle_id
    return organization_id, cycle_id, as_list(team_ids)


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
