from collections.abc import Collection, Sequence
from functools import cache
from typing import Any, NamedTuple, cast
from uuid import UUID

from sqlalchemy import Row, Select, Table, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.alignment.models import AlignmentLink
from okr_service.cycles.models import Cycle
from okr_service.initiatives.models import Initiative, InitiativeKeyResult
from okr_service.key_results.models import KeyResult
from okr_service.kit.repository import (
    Keep,
    Page,
    Window,
    equal_where_given,
    page,
    rows_grouped_by,
    subtree_ids,
)
from okr_service.kit.rows import (
    Record,
    Statement,
    as_list,
    columns,
    execute,
    fetch,
    nested_row,
    nested_rows,
)
from okr_service.objectives.models import Objective
from okr_service.okr.enums import CycleState, Health, ObjectiveKind, ObjectiveState, ProgressMode
from okr_service.teams.models import Team


async def lock_with_cycle(
    db: AsyncSession, organization_id: UUID, objective_id: UUID
) -> tuple[Objective, Cycle] | None:
    """The objective, locked for update, with its cycle: one statement, read afresh (not as
    this session may have read them before the lock)."""
    row = (
        await db.execute(
            select(Objective, Cycle)
            .join(
                Cycle,
                (Cycle.organization_id == Objective.organization_id)
                & (Cycle.id == Objective.cycle_id),
            )
            .where(Objective.organization_id == organization_id, Objective.id == objective_id)
            .with_for_update(of=Objective)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


class FigureInputs(NamedTuple):
    """An objective's row with what its figures are computed from (and, when asked, the
    alignment links it starts)."""

    objective: Record
    key_results: list[Any]  # kit.rows.NestedRow, by ID as `key_results_of` lists them
    cycle: Any  # kit.rows.NestedRow
    links_from: list[Any] | None  # kit.rows.NestedRow, by ID as alignment's `links_from`


OBJECTIVES, KEY_RESULTS, CYCLES, ALIGNMENT_LINKS = (
    cast(Table, model.__table__) for model in (Objective, KeyResult, Cycle, AlignmentLink)
)


@cache
def _figure_inputs_sql(links: bool) -> str:
    links_from = (
        f" ARRAY(SELECT {nested_row(ALIGNMENT_LINKS, 'a')} FROM alignment_links a"  # noqa: S608
        "  WHERE a.organization_id = o.organization_id AND a.source_objective_id = o.id"
        "  ORDER BY a.id),"
        if links
        else ""
    )
    return (
        f"SELECT {columns(OBJECTIVES, 'o')},"  # noqa: S608 (constant SQL)
        f" ARRAY(SELECT {nested_row(KEY_RESULTS, 'k')} FROM key_results k"
        "  WHERE k.organization_id = o.organization_id AND k.objective_id = o.id ORDER BY k.id),"
        f"{links_from}"
        f" (SELECT {nested_row(CYCLES, 'c')} FROM cycles c"
        "  WHERE c.organization_id = o.organization_id AND c.id = o.cycle_id)"
        " FROM objectives o WHERE o.organization_id = $1 AND o.id = ANY($2::uuid[])"
    )


async def with_figure_inputs(
    db: AsyncSession, organization_id: UUID, objective_ids: Sequence[UUID], *, links: bool = False
) -> dict[UUID, FigureInputs]:
    """Objectives' rows, each with its key results and its cycle (and with `links` the
    alignment links it starts): one statement where reading them apart takes several."""
    sql, ids = _figure_inputs_sql(links), as_list(objective_ids)
    width = len(OBJECTIVES.columns)
    return {
        row.id: FigureInputs(
            row,
            nested_rows(KEY_RESULTS, row[width]),
            nested_rows(CYCLES, [row[-1]])[0],
            nested_rows(ALIGNMENT_LINKS, row[width + 1]) if links else None,
        )
        for row in await fetch(db, OBJECTIVES, sql, organization_id, ids)
    }


async def set_health(
    db: AsyncSession, organization_id: UUID, objective_id: UUID, health: Health, told: Statement
) -> None:
    """Write an objective's stored health (for a caller holding it locked, and as a model
    no session holds), and run `told` (its event) in the same statement."""
    sql = _set_health(told.sql, len(told.arguments))
    arguments = [*told.arguments, organization_id, objective_id, health.name]
    await execute(db, Statement(sql, arguments))


@cache
def _set_health(told: str, told_arguments: int) -> str:
    organization_id, objective_id, health = (f"${told_arguments + n}" for n in (1, 2, 3))
    return (
        f"WITH told AS ({told})"  # noqa: S608 (constants only)
        f" UPDATE objectives SET health = {health}, updated_at = now()"
        f" WHERE organization_id = {organization_id} AND id = {objective_id}"
    )


async def key_results_of(
    db: AsyncSession, organization_id: UUID, objective_ids: list[UUID]
) -> dict[UUID, list[Record]]:
    return await rows_grouped_by(db, KeyResult, organization_id, "objective_id", objective_ids)


async def initiatives_of(
    db: AsyncSession, organization_id: UUID, objective_ids: list[UUID]
) -> dict[UUID, list[Row[Any]]]:
    """Initiatives linked to any key result of each objective, each listed once."""
    initiative = Initiative.__table__
    statement = (
        select(KeyResult.objective_id.label("objective_id"), initiative)
        .ext(distinct_on(KeyResult.objective_id, initiative.c.id))
        .join(
            InitiativeKeyResult,
            (InitiativeKeyResult.organization_id == initiative.c.organization_id)
            & (InitiativeKeyResult.initiative_id == initiative.c.id),
        )
        .join(
            KeyResult,
            (KeyResult.organization_id == InitiativeKeyResult.organization_id)
            & (KeyResult.id == InitiativeKeyResult.key_result_id),
        )
        .where(
            initiative.c.organization_id == organization_id,
            KeyResult.objective_id.in_(objective_ids),
        )
        .order_by(KeyResult.objective_id, initiative.c.id)
    )
    groups: dict[UUID, list[Row[Any]]] = {key: [] for key in objective_ids}
    for row in await db.execute(statement):
        groups[row.objective_id].append(row)
    return groups


async def key_results_of_objectives(
    db: AsyncSession, organization_id: UUID, objective_ids: Sequence[UUID]
) -> Sequence[KeyResult]:
    """The key results of these objectives, as entities, in one statement."""
    return (
        await db.scalars(
            select(KeyResult)
            .where(
                KeyResult.organization_id == organization_id,
                KeyResult.objective_id.in_(objective_ids),
            )
            .order_by(KeyResult.id)
        )
    ).all()


async def with_cycle_dates(
    db: AsyncSession, organization_id: UUID, objective_ids: Sequence[UUID]
) -> list[Row[Any]]:
    """The objectives' rows, each with its cycle's `starts_on`, `ends_on` and whether it
    is closed (`cycle_closed`)."""
    objective = Objective.__table__
    closed = (Cycle.state == CycleState.CLOSED).label("cycle_closed")
    result = await db.execute(
        select(objective, Cycle.starts_on, Cycle.ends_on, closed)
        .join(
            Cycle,
            (Cycle.organization_id == objective.c.organization_id)
            & (Cycle.id == objective.c.cycle_id),
        )
        .where(objective.c.organization_id == organization_id, objective.c.id.in_(objective_ids))
        .order_by(objective.c.id)
    )
    return list(result)


async def progress_modes(
    db: AsyncSession, organization_id: UUID, objective_ids: Collection[UUID]
) -> dict[UUID, ProgressMode]:
    result = await db.execute(
        select(Objective.id, Objective.progress_mode).where(
            Objective.organization_id == organization_id, Objective.id.in_(list(objective_ids))
        )
    )
    return dict(result.all())


async def unsettled_in_open_cycles(
    db: AsyncSession, organization_id: UUID
) -> list[tuple[UUID, Health]]:
    """(objective, stored health) of the organization's objectives whose health is derived,
    in cycles not closed: what the health sweep looks at."""
    result = await db.execute(
        select(Objective.id, Objective.health)
        .join(
            Cycle,
            (Cycle.organization_id == Objective.organization_id) & (Cycle.id == Objective.cycle_id),
        )
        .where(
            Objective.organization_id == organization_id,
            Cycle.state != CycleState.CLOSED,
            Objective.health_manual.is_(False),
        )
        .order_by(Objective.id)
    )
    return [(id_, health) for id_, health in result]


async def list_objectives(
    db: AsyncSession,
    organization_id: UUID,
    window: Window,
    *,
    cycle_id: UUID | None = None,
    team_id: UUID | None = None,
    include_subteams: bool = False,
    state: ObjectiveState | None = None,
    kind: ObjectiveKind | None = None,
    keep: Keep | None = None,
) -> Page:
    """Objectives in creation order; with `include_subteams`, `team_id` reaches every team
    below it too (in the same statement)."""
    filters = equal_where_given(
        (Objective.cycle_id, cycle_id), (Objective.state, state), (Objective.kind, kind)
    )
    if team_id is not None:
        filters.append(
            Objective.team_id.in_(subtree_ids(Team, organization_id, team_id))
            if include_subteams
            else Objective.team_id == team_id
        )
    return await page(db, Objective, organization_id, window, filters, keep)


def ids_in_open_cycles(organization_id: UUID) -> Select[UUID]:
    """A select of the organization's objectives in cycles not closed, to use as
    `column.in_(...)` inside one statement."""
    return (
        select(Objective.id)
        .join(
            Cycle,
            (Cycle.organization_id == Objective.organization_id) & (Cycle.id == Objective.cycle_id),
        )
        .where(Objective.organization_id == organization_id, Cycle.state != CycleState.CLOSED)
    )
