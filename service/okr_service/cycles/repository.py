from collections.abc import Sequence
from datetime import date
from uuid import UUID

from sqlalchemy import ColumnElement, Select, String, Table, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import SQLCoreOperations

from okr_service.cycles.models import Cycle
from okr_service.key_results.models import KeyResult
from okr_service.kit.repository import (
    ChildRows,
    Page,
    Window,
    equal_where_given,
    page,
    rows_grouped_by,
)
from okr_service.kit.rows import Record, as_list, fetch, fetch_rows, select_where
from okr_service.objectives.models import Objective
from okr_service.okr.enums import CycleState

# A cycle's lists, paged per cycle (creation order).
CHILDREN = ChildRows(Cycle, "parent_id")
OBJECTIVES = ChildRows(Objective, "cycle_id")


async def children(
    db: AsyncSession, organization_id: UUID, cycle_ids: list[UUID]
) -> dict[UUID, list[Record]]:
    return await rows_grouped_by(db, Cycle, organization_id, "parent_id", cycle_ids)


async def objectives_of_cycles(
    db: AsyncSession, organization_id: UUID, cycle_ids: list[UUID]
) -> dict[UUID, list[Record]]:
    return await rows_grouped_by(db, Objective, organization_id, "cycle_id", cycle_ids)


async def objective_rows_of_cycle(
    db: AsyncSession, organization_id: UUID, cycle_id: UUID, team_ids: Sequence[UUID] | None
) -> list[Record]:
    """The cycle's objectives as rows, in key order (of `team_ids` only, when given)."""
    table: Table = Objective.__table__  # type: ignore[assignment]
    if team_ids is None:
        sql = select_where(table, "WHERE organization_id = $1 AND cycle_id = $2 ORDER BY id")
        return await fetch(db, table, sql, organization_id, cycle_id)
    sql = select_where(
        table,
        "WHERE organization_id = $1 AND cycle_id = $2 AND team_id = ANY($3::uuid[]) ORDER BY id",
    )
    return await fetch(db, table, sql, organization_id, cycle_id, as_list(team_ids))


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
        # Read afresh: a check-in writes objectives through the driver, past the session.
        statement = statement.with_for_update().execution_options(populate_existing=True)
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
            .execution_options(populate_existing=True)  # read afresh, as objectives_of_cycle
        )
    ).all()


# Writers into a cycle hold its advisory lock shared until they commit, closeCycle holds
# it exclusively. Not the cycle's row lock: PostgreSQL lets a new share lock in beside those
# held even while an update lock waits, so a steady stream of check-ins would starve a
# close; advisory locks queue in arrival order. Taken before any row lock (closeCycle takes
# it first too), so writers and closes queue behind each other instead of deadlocking.


TURN_PREFIX = "cycle:"


def turn_key(cycle_id: SQLCoreOperations[UUID]) -> ColumnElement[int]:
    """The advisory lock key of a cycle."""
    return func.hashtextextended(literal(TURN_PREFIX) + cast(cycle_id, String), 0)


# `take_turn_in_key_result`, the statement of every check-in, in asyncpg's own SQL (what
# SQLAlchemy would build, without building it each time): the same key as `turn_key`.
_TURN_IN_KEY_RESULT = (
    "SELECT o.cycle_id, pg_advisory_xact_lock_shared("  # noqa: S608 (constants only)
    f"hashtextextended('{TURN_PREFIX}' || CAST(o.cycle_id AS VARCHAR), 0))"
    " FROM objectives AS o JOIN key_results AS k"
    " ON k.organization_id = o.organization_id AND k.objective_id = o.id"
    " WHERE k.organization_id = $1 AND k.id = $2"
)


async def take_turn_to_close(db: AsyncSession, organization_id: UUID, cycle_id: UUID) -> None:
    """Wait for the writers into the cycle to commit, and keep new ones out until commit.
    Only a cycle of this organization is locked (another tenant's ID locks nothing)."""
    await db.execute(
        select(func.pg_advisory_xact_lock(turn_key(Cycle.id))).where(
            Cycle.organization_id == organization_id, Cycle.id == cycle_id
        )
    )


async def take_turn_to_write(db: AsyncSession, organization_id: UUID, cycle_id: UUID) -> None:
    """Wait for a close of the cycle under way to commit, and keep the next one out. Only
    a cycle of this organization is locked."""
    await db.execute(
        select(func.pg_advisory_xact_lock_shared(turn_key(Cycle.id))).where(
            Cycle.organization_id == organization_id, Cycle.id == cycle_id
        )
    )


async def take_turn_in_objective(
    db: AsyncSession, organization_id: UUID, objective_id: UUID
) -> UUID | None:
    """`take_turn_to_write` in the objective's cycle; the cycle's ID, or None without the
    objective. One statement: the lock is taken for the row found only."""
    return await taking_turn(
        db,
        select(Objective.cycle_id).where(
            Objective.organization_id == organization_id, Objective.id == objective_id
        ),
    )


async def take_turn_in_key_result(
    db: AsyncSession, organization_id: UUID, key_result_id: UUID
) -> UUID | None:
    """`take_turn_to_write` in the key result's cycle (its objective's)."""
    # In the select list, the lock is taken for the row the statement returns only.
    found = await fetch_rows(db, _TURN_IN_KEY_RESULT, organization_id, key_result_id)
    return found[0][0] if found else None


async def taking_turn(db: AsyncSession, cycle_of: Select[UUID]) -> UUID | None:
    # In the select list, the lock is taken for the rows the statement returns, not for
    # every row a plan happens to scan.
    statement = cycle_of.add_columns(
        func.pg_advisory_xact_lock_shared(turn_key(Objective.cycle_id))
    )
    row = (await db.execute(statement)).one_or_none()
    return None if row is None else row[0]


async def read_fresh(db: AsyncSession, organization_id: UUID, cycle_id: UUID) -> Cycle | None:
    """The cycle as committed now, not as this session may have read it before its turn."""
    return (
        await db.scalars(
            select(Cycle)
            .where(Cycle.organization_id == organization_id, Cycle.id == cycle_id)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()


async def list_cycles(
    db: AsyncSession, organization_id: UUID, window: Window, *, state: CycleState | None = None
) -> Page:
    return await page(db, Cycle, organization_id, window, equal_where_given((Cycle.state, state)))


async def organizations_with_open_cycles(db: AsyncSession) -> list[UUID]:
    """Every organization with a cycle not closed, across organizations (the sweep's)."""
    result = await db.execute(
        select(Cycle.organization_id).where(Cycle.state != CycleState.CLOSED).distinct()
    )
    return list(result.scalars())
