from datetime import datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any, NamedTuple, TypeVar
from uuid import UUID

from sqlalchemy import Row, Select, Table, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.cycles.models import Cycle
from okr_service.events.models import Event
from okr_service.initiatives.models import Initiative, InitiativeKeyResult
from okr_service.key_results.models import CheckIn, KeyResult
from okr_service.kit.repository import (
    ChildRows,
    Keep,
    Page,
    Window,
    equal_where_given,
    not_found,
    page,
    rows_grouped_by,
)
from okr_service.kit.rows import (
    Record,
    Statement,
    columns,
    execute,
    fetch,
    fetch_rows,
    instance_of,
    nested_row,
    nested_rows,
)
from okr_service.objectives.models import Objective
from okr_service.okr.enums import CycleState, InitiativeStatus
from okr_service.okr.figures import CycleDates

# A key result's check-ins, paged per key result: newest first, and oldest first (its trend).
CHECK_INS = ChildRows(CheckIn, "key_result_id", order_by="checked_at", descending=True)
HISTORY = ChildRows(CheckIn, "key_result_id", order_by="checked_at")

SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])


def through_cycle(statement: SelectT) -> SelectT:
    """`statement` over key results, joined to their objectives and those to their cycles."""
    return statement.join(
        Objective,
        (Objective.organization_id == KeyResult.organization_id)
        & (Objective.id == KeyResult.objective_id),
    ).join(
        Cycle,
        (Cycle.organization_id == Objective.organization_id) & (Cycle.id == Objective.cycle_id),
    )


async def lock_with_cycle(
    db: AsyncSession,
    organization_id: UUID,
    key_result_id: UUID,
    *,
    field: str,
    deleting: bool = False,
) -> tuple[KeyResult, Objective, Cycle]:
    """The key result, locked for update, with its objective and cycle: one statement,
    read afresh (not as this session may have read them before the lock). Unless it is
    being deleted, locked as its UPDATE locks it (FOR NO KEY UPDATE): a row inserted
    meanwhile referencing it (an initiative's link, holding its objective) need not wait,
    and so cannot deadlock with this write's turn at the objective."""
    row = (
        await db.execute(
            through_cycle(select(KeyResult, Cycle, Objective))
            .where(KeyResult.organization_id == organization_id, KeyResult.id == key_result_id)
            .with_for_update(of=KeyResult, key_share=not deleting)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if row is None:
        raise not_found(field)
    return row[0], row[2], row[1]


_KEY_RESULTS: Table = KeyResult.__table__  # type: ignore[assignment]
_OBJECTIVES: Table = Objective.__table__  # type: ignore[assignment]
_CYCLES: Table = Cycle.__table__  # type: ignore[assignment]


class LockedForCheckIn(NamedTuple):
    key_result: KeyResult
    objective: Objective
    cycle: Cycle
    # PostgreSQL's now(): the transaction's start, what its writes stamp `updated_at` with.
    written_at: datetime


# The key result locked as `lock_with_cycle` locks it for an update, then its objective,
# as every writer locks a key result before its objective: the objective's health is then
# announced from its key results as the check-in's write reads them, so check-ins under one
# objective announce it one after the other, each from the other's result.
# S608: the SQL is built from the models' column names, at import; no input reaches it.
_LOCK_FOR_CHECK_IN = (
    f"SELECT {columns(_KEY_RESULTS, 'k')}, {columns(_OBJECTIVES, 'o')},"  # noqa: S608
    f" {columns(_CYCLES, 'c')}, now()"
    " FROM key_results AS k"
    " JOIN objectives AS o ON o.organization_id = k.organization_id AND o.id = k.objective_id"
    " JOIN cycles AS c ON c.organization_id = o.organization_id AND c.id = o.cycle_id"
    " WHERE k.organization_id = $1 AND k.id = $2"
    " FOR NO KEY UPDATE OF k FOR UPDATE OF o"
)


async def lock_for_check_in(
    db: AsyncSession, organization_id: UUID, key_result_id: UUID, *, field: str
) -> LockedForCheckIn:
    """`lock_with_cycle` for a check-in, its objective locked too, and read afresh: the rows
    as models no session holds (a check-in writes with its own SQL), and the transaction's
    now()."""
    found = await fetch_rows(db, _LOCK_FOR_CHECK_IN, organization_id, key_result_id)
    if not found:
        raise not_found(field)
    row = found[0]
    objective_at = len(_KEY_RESULTS.columns)
    cycle_at = objective_at + len(_OBJECTIVES.columns)
    return LockedForCheckIn(
        instance_of(KeyResult, row),
        instance_of(Objective, row, objective_at),
        instance_of(Cycle, row, cycle_at),
        row[-1],
    )


# What a check-in's INSERT writes: every column the database does not fill itself.
_CHECK_IN_COLUMNS = tuple(
    column.name for column in CheckIn.__table__.columns if column.server_default is None
)


def _numbered(first: int, count: int) -> list[str]:
    return [f"${number}" for number in range(first, first + count)]


@cache
def _insert_check_in(told: str, told_arguments: int) -> str:
    """The check-in's INSERT carrying `told` (its events' statement, whose arguments
    come first)."""
    values = _numbered(told_arguments + 1, len(_CHECK_IN_COLUMNS))
    return (
        f"WITH told AS ({told})"  # noqa: S608 (constants only)
        f" INSERT INTO check_ins ({', '.join(_CHECK_IN_COLUMNS)}) VALUES ({', '.join(values)})"
    )


@cache
def _record_latest_check_in(told: str, told_arguments: int) -> str:
    """The check-in and its events, the key result moved to it; the key results of its
    objective as they were before the statement (the moved one's new values are the
    caller's)."""
    values = _numbered(told_arguments + 1, len(_CHECK_IN_COLUMNS))
    named = dict(zip(_CHECK_IN_COLUMNS, values, strict=True))
    organization_id, key_result_id = named["organization_id"], named["key_result_id"]
    value, health, manual, confidence, version, objective_id = _numbered(
        told_arguments + len(_CHECK_IN_COLUMNS) + 1, 6
    )
    return (
        f"WITH told AS ({told}),"  # noqa: S608 (constants only)
        f" recorded AS (INSERT INTO check_ins ({', '.join(_CHECK_IN_COLUMNS)})"
        f"  VALUES ({', '.join(values)})),"
        f" moved AS (UPDATE key_results SET current_value = {value}, health = {health},"
        f"  health_manual = {manual}, confidence = {confidence}, version = {version},"
        "  updated_at = now()"
        f"  WHERE organization_id = {organization_id} AND id = {key_result_id})"
        f" SELECT {columns(_KEY_RESULTS)} FROM key_results"
        f" WHERE organization_id = {organization_id} AND objective_id = {objective_id}"
        " ORDER BY id"
    )


def _check_in_values(check_in: CheckIn) -> list[Any]:
    """The INSERT's values; an enum as its member's name (what SQLAlchemy stores)."""
    values = (getattr(check_in, column) for column in _CHECK_IN_COLUMNS)
    return [value.name if isinstance(value, Enum) else value for value in values]


async def add_check_in(db: AsyncSession, check_in: CheckIn, told: Statement) -> None:
    """Append a check-in (history: the key result keeps its newer value), and run `told`
    (its events) in the same statement."""
    sql = _insert_check_in(told.sql, len(told.arguments))
    await execute(db, Statement(sql, [*told.arguments, *_check_in_values(check_in)]))


async def add_latest_check_in(
    db: AsyncSession, check_in: CheckIn, key_result: KeyResult, told: Statement
) -> list[Any]:
    """Append a check-in, write the key result it moved (`key_result`, as the caller moved
    it), and run `told` (their events): one statement; the key results of its objective
    (`key_result` itself among them)."""
    moved = [
        key_result.current_value,
        key_result.health.name,
        key_result.health_manual,
        key_result.confidence,
        key_result.version,
        key_result.objective_id,
    ]
    siblings = await fetch(
        db,
        _KEY_RESULTS,
        _record_latest_check_in(told.sql, len(told.arguments)),
        *told.arguments,
        *_check_in_values(check_in),
        *moved,
    )
    return [key_result if row.id == key_result.id else row for row in siblings]


async def objective_with_cycle(
    db: AsyncSession, organization_id: UUID, objective_id: UUID, *, field: str
) -> tuple[Objective, Cycle]:
    """The objective a key result is added to, with its cycle: one statement."""
    row = (
        await db.execute(
            select(Objective, Cycle)
            .join(
                Cycle,
                (Cycle.organization_id == Objective.organization_id)
                & (Cycle.id == Objective.cycle_id),
            )
            .where(Objective.organization_id == organization_id, Objective.id == objective_id)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if row is None:
        raise not_found(field)
    return row[0], row[1]


async def latest_check_in_time(
    db: AsyncSession, organization_id: UUID, key_result_id: UUID
) -> datetime | None:
    return (
        await db.execute(
            select(func.max(CheckIn.checked_at)).where(
                CheckIn.organization_id == organization_id,
                CheckIn.key_result_id == key_result_id,
            )
        )
    ).scalar_one()


_CHECK_INS: Table = CheckIn.__table__  # type: ignore[assignment]

# One index probe per key result (a LATERAL ... LIMIT 1 walking the checked_at index
# backwards): the cost does not grow with the length of the history.
# S608: the SQL is built from the model's column names, at import; no input reaches it.
NEWEST_FIRST = "ORDER BY checked_at DESC, id DESC"  # a key result's latest check-in first
_LATEST_CHECK_INS = (
    f"SELECT {columns(_CHECK_INS, 'newest')}"  # noqa: S608
    " FROM unnest($2::uuid[]) AS keys(id) CROSS JOIN LATERAL ("
    "  SELECT * FROM check_ins WHERE organization_id = $1 AND key_result_id = keys.id"
    f"  {NEWEST_FIRST} LIMIT 1"
    ") AS newest"
)
_LINKS: Table = InitiativeKeyResult.__table__  # type: ignore[assignment]


class Details(NamedTuple):
    """What a page shows below each key result, read together (`details_of`)."""

    latest_check_ins: dict[UUID, Any]  # kit.rows.NestedRow; absent: never checked in
    initiative_links: dict[UUID, list[Any]]  # kit.rows.NestedRow, by ID


@cache
def _details_sql(latest: bool, links: bool) -> str:
    parts = ["k.id"]
    if latest:
        parts.append(
            f"(SELECT {nested_row(_CHECK_INS, 'c')} FROM check_ins c"  # noqa: S608
            " WHERE c.organization_id = k.organization_id AND c.key_result_id = k.id"
            f" {NEWEST_FIRST} LIMIT 1)"
        )
    if links:
        parts.append(
            f"ARRAY(SELECT {nested_row(_LINKS, 'l')} FROM initiative_key_results l"  # noqa: S608
            " WHERE l.organization_id = k.organization_id AND l.key_result_id = k.id"
            " ORDER BY l.id)"
        )
    return (
        f"SELECT {', '.join(parts)} FROM key_results k"  # noqa: S608 (constants only)
        " WHERE k.organization_id = $1 AND k.id = ANY($2::uuid[])"
    )


async def details_of(
    db: AsyncSession,
    organization_id: UUID,
    key_result_ids: list[UUID],
    *,
    latest: bool,
    links: bool,
) -> Details:
    """Each key result's latest check-in (`latest`) and initiative links (`links`), as
    `latest_check_ins` and `initiative_links_of` read them, in one statement."""
    found = await fetch_rows(db, _details_sql(latest, links), organization_id, key_result_ids)
    latest_of: dict[UUID, Any] = {}
    links_of: dict[UUID, list[Any]] = {id_: [] for id_ in key_result_ids} if links else {}
    for row in found:
        if latest and row[1] is not None:
            [latest_of[row[0]]] = nested_rows(_CHECK_INS, [row[1]])
        if links:
            links_of[row[0]] = nested_rows(_LINKS, row[-1])
    return Details(latest_of, links_of)


async def latest_check_ins(
    db: AsyncSession, organization_id: UUID, key_result_ids: list[UUID]
) -> dict[UUID, Record]:
    """The newest check-in of each key result, in one statement."""
    found = await fetch(db, _CHECK_INS, _LATEST_CHECK_INS, organization_id, key_result_ids)
    return {row.key_result_id: row for row in found}


async def initiative_links_of(
    db: AsyncSession, organization_id: UUID, key_result_ids: list[UUID]
) -> dict[UUID, list[Record]]:
    return await rows_grouped_by(
        db, InitiativeKeyResult, organization_id, "key_result_id", key_result_ids
    )


async def cycle_dates(
    db: AsyncSession, organization_id: UUID, key_result_ids: list[UUID]
) -> dict[UUID, CycleDates]:
    """The dates of each key result's cycle (through its objective)."""
    result = await db.execute(
        through_cycle(select(KeyResult.id, Cycle.starts_on, Cycle.ends_on, Cycle.state)).where(
            KeyResult.organization_id == organization_id, KeyResult.id.in_(key_result_ids)
        )
    )
    return {row.id: CycleDates.of(row) for row in result}


async def bets_of(
    db: AsyncSession, organization_id: UUID, key_result_ids: list[UUID]
) -> dict[UUID, list[tuple[Decimal | None, InitiativeStatus]]]:
    """(expected impact, status) of each initiative linked to each key result."""
    result = await db.execute(
        select(
            InitiativeKeyResult.key_result_id,
            InitiativeKeyResult.expected_impact,
            Initiative.status,
        )
        .join(
            Initiative,
            (Initiative.organization_id == InitiativeKeyResult.organization_id)
            & (Initiative.id == InitiativeKeyResult.initiative_id),
        )
        .where(
            InitiativeKeyResult.organization_id == organization_id,
            InitiativeKeyResult.key_result_id.in_(key_result_ids),
        )
    )
    groups: dict[UUID, list[tuple[Decimal | None, InitiativeStatus]]] = {}
    for key_result_id, impact, status in result:
        groups.setdefault(key_result_id, []).append((impact, status))
    return groups


async def unsettled_in_open_cycles(db: AsyncSession, organization_id: UUID) -> list[Row[Any]]:
    """The organization's key results whose health is derived, in cycles not closed,
    with their cycle's dates: what the health sweep looks at."""
    table = KeyResult.__table__
    result = await db.execute(
        through_cycle(select(table, Cycle.starts_on, Cycle.ends_on))
        .where(
            table.c.organization_id == organization_id,
            Cycle.state != CycleState.CLOSED,
            table.c.health_manual.is_(False),
        )
        .order_by(table.c.id)
    )
    return list(result)


async def list_key_results(
    db: AsyncSession,
    organization_id: UUID,
    window: Window,
    *,
    objective_id: UUID | None = None,
    team_id: UUID | None = None,
    keep: Keep | None = None,
) -> Page:
    filters = equal_where_given(
        (KeyResult.objective_id, objective_id), (KeyResult.team_id, team_id)
    )
    return await page(db, KeyResult, organization_id, window, filters, keep)


async def awaiting_check_in(db: AsyncSession, organization_id: UUID) -> list[Any]:
    """The organization's key results of active cycles, with their cycle's first and last
    days and their latest check-in's time: what check-in reminders look at."""
    latest = (
        select(func.max(CheckIn.checked_at))
        .where(
            CheckIn.organization_id == KeyResult.organization_id,
            CheckIn.key_result_id == KeyResult.id,
        )
        .correlate(KeyResult)
        .scalar_subquery()
    )
    result = await db.execute(
        through_cycle(
            select(KeyResult.id, Cycle.starts_on, Cycle.ends_on, latest.label("last_check_in_at"))
        )
        .where(KeyResult.organization_id == organization_id, Cycle.state == CycleState.ACTIVE)
        .order_by(KeyResult.id)
    )
    return list(result.all())


async def latest_events_of_type(
    db: AsyncSession, organization_id: UUID, event_type: str, subject_ids: list[UUID]
) -> dict[UUID, dict[str, Any]]:
    """The `data` of the latest event of `event_type` of each subject that has one."""
    if not subject_ids:
        return {}
    of_type = (
        Event.organization_id == organization_id,
        Event.type == event_type,
        Event.subject_id.in_(subject_ids),
    )
    latest = select(Event.subject_id, func.max(Event.sequence)).where(*of_type)
    result = await db.execute(
        select(Event.subject_id, Event.data).where(
            *of_type,
            tuple_(Event.subject_id, Event.sequence).in_(latest.group_by(Event.subject_id)),
        )
    )
    return {row.subject_id: row.data for row in result}
