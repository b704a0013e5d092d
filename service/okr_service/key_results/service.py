from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from okr_service.auth.access import authorize_key_result, authorize_team
from okr_service.cycles.models import Cycle
from okr_service.cycles.service import (
    ensure_open,
    ensure_still_in,
    take_turn_in_key_result,
    take_turn_in_objective,
)
from okr_service.events import service as events
from okr_service.events.catalog import EventType
from okr_service.key_results import repository
from okr_service.key_results.models import CheckIn, KeyResult
from okr_service.kit.clock import Clock, utc_date
from okr_service.kit.errors import ErrorCode
from okr_service.kit.numbers import to_decimal, to_float
from okr_service.kit.principal import Principal, Scope
from okr_service.kit.repository import Page, Window, get_owned, lock_fresh
from okr_service.kit.validation import Problems
from okr_service.objectives import service as objectives
from okr_service.objectives.models import Objective
from okr_service.okr import cadence as cadence_of
from okr_service.okr import checks, figures
from okr_service.okr.enums import CycleState, Direction, Health, Indicator, InitiativeStatus, Metric
from okr_service.okr.figures import CycleDates, KeyResultFigures, KeyResultValues, ProgressOf
from okr_service.teams.models import Team

TYPE_NAME = "KeyResult"


class RecordedCheckIn(NamedTuple):
    """A check-in and the rows it touched, ready for the response to use."""

    check_in: CheckIn
    key_result: KeyResult
    objective: Objective
    cycle: Cycle


HEALTH_CHANGED = EventType.KEY_RESULT_HEALTH_CHANGED
STATUS_EVENTS = {"health": HEALTH_CHANGED}
MAX_WEIGHT = 100.0


def check_values(problems: Problems, values: dict[str, Any]) -> None:
    """Numeric rules shared by create and update; `values` holds the complete new state."""
    for field in ("start_value", "target_value", "current_value"):
        problems.finite(events.camel_case(field), values.get(field))
    problems.in_range("weight", values.get("weight"), 0, MAX_WEIGHT)
    problems.in_range("confidence", values.get("confidence"), 0, 1)
    start, target = values.get("start_value"), values.get("target_value")
    if start is None or target is None or problems.errors:
        return
    direction = values["direction"]
    if direction is Direction.INCREASE and not target > start:
        problems.add(
            "targetValue",
            "An INCREASE key result needs a target above its start value.",
            ErrorCode.TARGET_NOT_BEYOND_START,
        )
    elif direction is Direction.DECREASE and not target < start:
        problems.add(
            "targetValue",
            "A DECREASE key result needs a target below its start value.",
            ErrorCode.TARGET_NOT_BEYOND_START,
        )


def check_texts(problems: Problems, changes: dict[str, Any]) -> None:
    if "title" in changes:
        changes["title"] = problems.name("title", changes["title"])
    if "unit" in changes:
        changes["unit"] = problems.text("unit", changes["unit"], max_length=40)


def current_values(key_result: KeyResult) -> dict[str, Any]:
    return {
        "direction": key_result.direction,
        "start_value": to_float(key_result.start_value),
        "target_value": float(key_result.target_value),
        "weight": float(key_result.weight),
        "confidence": to_float(key_result.confidence),
    }


NUMERIC_FIELDS = ("start_value", "target_value", "current_value", "weight", "confidence")


def as_decimals(changes: dict[str, Any]) -> dict[str, Any]:
    return {
        field: to_decimal(value) if field in NUMERIC_FIELDS else value
        for field, value in changes.items()
    }


async def create_key_result(
    db: AsyncSession,
    actor: Principal,
    *,
    objective_id: UUID,
    title: str,
    metric: Metric,
    direction: Direction,
    start_value: float | None,
    target_value: float,
    unit: str | None,
    team_id: UUID | None,
    now: datetime,
    weight: float = 1.0,
    confidence: float | None = None,
    indicator: Indicator | None = None,
) -> KeyResult:
    actor.require(Scope.WRITE)
    fields: dict[str, Any] = {
        "title": title,
        "metric": metric,
        "direction": direction,
        "start_value": start_value,
        "target_value": target_value,
        "unit": unit,
        "weight": weight,
        "confidence": confidence,
        "indicator": indicator,
    }
    problems = Problems()
    check_texts(problems, fields)
    check_values(problems, fields)
    problems.raise_if_any()
    turn = await take_turn_in_objective(db, actor.organization_id, objective_id, "objectiveId")
    objective, cycle = await repository.objective_with_cycle(
        db, actor.organization_id, objective_id, field="objectiveId"
    )
    ensure_still_in(turn, cycle, "objectiveId")
    ensure_open(cycle, "objectiveId")
    if team_id is not None:
        await get_owned(db, Team, actor.organization_id, team_id, field="teamId")
    await authorize_team(db, actor, objective.team_id)
    if team_id is not None and team_id != objective.team_id:
        await authorize_team(db, actor, team_id)  # owned by another team: that one too
    key_result = KeyResult(
        organization_id=actor.organization_id,
        objective_id=objective.id,
        team_id=team_id or objective.team_id,
        **as_decimals(fields),
    )
    key_result.health_manual = False
    key_result.health = figures_of(key_result, CycleDates.of(cycle), now).health
    db.add(key_result)
    await db.flush()
    await events.record_created(db, actor, key_result, EventType.KEY_RESULT_CREATED)
    await objectives.announce_health(db, actor, objective, now, CycleDates.of(cycle))
    return key_result


async def update_key_result(
    db: AsyncSession, actor: Principal, key_result_id: UUID, changes: dict[str, Any], now: datetime
) -> KeyResult:
    actor.require(Scope.WRITE)
    problems = Problems()
    check_texts(problems, changes)
    problems.raise_if_any()
    key_result, objective, cycle = await lock_in_open_cycle(
        db, actor.organization_id, key_result_id, "id"
    )
    check_values(problems, current_values(key_result) | changes)
    problems.raise_if_any()
    if changes.get("team_id") is not None:
        await get_owned(db, Team, actor.organization_id, changes["team_id"], field="teamId")
    await authorize_key_result(db, actor, key_result.team_id, objective.team_id)
    if changes.get("team_id") is not None:
        await authorize_team(db, actor, changes["team_id"])  # handing it over: the new team too
    if "health" in changes:
        changes["health_manual"] = True
    was_achieved = figures.achieved(key_result)
    await events.apply_update(
        db,
        actor,
        key_result,
        EventType.KEY_RESULT_UPDATED,
        as_decimals(changes),
        status_fields=STATUS_EVENTS,
    )
    await record_if_newly_achieved(db, actor, key_result, was_achieved)
    await announce_health(db, actor, key_result, CycleDates.of(cycle), now)
    await objectives.announce_health(db, actor, objective, now, CycleDates.of(cycle))
    return key_result


async def delete_key_result(
    db: AsyncSession, actor: Principal, key_result_id: UUID, now: datetime
) -> KeyResult:
    actor.require(Scope.WRITE)
    key_result, objective, cycle = await lock_in_open_cycle(
        db, actor.organization_id, key_result_id, "id", deleting=True
    )
    await authorize_key_result(db, actor, key_result.team_id, objective.team_id)
    await events.delete(db, actor, key_result)
    await objectives.announce_health(db, actor, objective, now, CycleDates.of(cycle))
    return key_result


async def record_check_in(
    db: AsyncSession,
    actor: Principal,
    *,
    key_result_id: UUID,
    value: float,
    health: Health | None,
    confidence: float | None,
    note: str | None,
    blockers: str | None,
    support_needed: str | None,
    clock: Clock,
    checked_at: datetime | None = None,
) -> RecordedCheckIn:
    """Append a check-in; the key result takes its value unless a later one exists."""
    actor.require(Scope.WRITE)
    problems = Problems()
    problems.finite("value", value)
    problems.in_range("confidence", confidence, 0, 1)
    note = problems.text("note", note)
    blockers = problems.text("blockers", blockers)
    support_needed = problems.text("supportNeeded", support_needed)
    if problems.moment("checkedAt", checked_at) and checked_at and checked_at > clock.now():
        problems.add("checkedAt", "A check-in cannot be in the future.", ErrorCode.INVALID_VALUE)
    problems.raise_if_any()
    locked = await lock_for_check_in(db, actor.organization_id, key_result_id, "keyResultId")
    key_result, objective, cycle = locked.key_result, locked.objective, locked.cycle
    await authorize_key_result(db, actor, key_result.team_id, objective.team_id)
    # "Now" is read once the key result is locked: a concurrent check-in that took the lock
    # first is then older, and this one does not land behind it.
    now = clock.now()
    # An explicit time may lie behind history already recorded; "now" never does.
    is_latest = checked_at is None or await is_latest_check_in(db, key_result, checked_at)
    check_in = CheckIn(
        id=uuid7(),
        organization_id=actor.organization_id,
        key_result_id=key_result.id,
        value=to_decimal(value),
        health=health,
        confidence=to_decimal(confidence),
        note=note,
        blockers=blockers,
        support_needed=support_needed,
        author=actor.actor_name,
        checked_at=checked_at or now,
        created_at=locked.written_at,
        updated_at=locked.written_at,
    )
    if is_latest:
        await apply_check_in(db, actor, key_result, check_in, locked, now)
    else:
        # History only: the key result keeps its newer value, but consumers still learn of
        # the check-in (a BI tool pulling history needs it).
        told = events.appending(actor, [checked_in(key_result, check_in)])
        await repository.add_check_in(db, check_in, told)
    return RecordedCheckIn(check_in, key_result, objective, cycle)


async def lock_for_check_in(
    db: AsyncSession, organization_id: UUID, key_result_id: UUID, field: str
) -> repository.LockedForCheckIn:
    """`lock_in_open_cycle` for a check-in, its objective locked too (see
    `repository.lock_for_check_in`)."""
    turn = await take_turn_in_key_result(db, organization_id, key_result_id, field)
    locked = await repository.lock_for_check_in(db, organization_id, key_result_id, field=field)
    ensure_still_in(turn, locked.cycle, field)
    ensure_open(locked.cycle, field)
    return locked


def checked_in(
    key_result: KeyResult, check_in: CheckIn, changes: dict[str, dict[str, Any]] | None = None
) -> events.Draft:
    """`key_result.checked_in`: the key result as the check-in left it, the check-in with it."""
    return events.draft(
        EventType.KEY_RESULT_CHECKED_IN,
        key_result,
        changes=changes,
        object_state=events.snapshot(key_result, TYPE_NAME)
        | {"checkIn": events.snapshot(check_in, "CheckIn")},
    )


async def lock_in_open_cycle(
    db: AsyncSession,
    organization_id: UUID,
    key_result_id: UUID,
    field: str,
    *,
    deleting: bool = False,
) -> tuple[KeyResult, Objective, Cycle]:
    """The key result locked for a write, with its objective and its open cycle: two
    statements, the turn to write into the cycle first (see `okr_service.cycles.service`), so
    a write queued behind closeCycle reads the cycle closed instead of landing in it."""
    turn = await take_turn_in_key_result(db, organization_id, key_result_id, field)
    key_result, objective, cycle = await repository.lock_with_cycle(
        db, organization_id, key_result_id, field=field, deleting=deleting
    )
    ensure_still_in(turn, cycle, field)
    ensure_open(cycle, field)
    return key_result, objective, cycle


async def is_latest_check_in(db: AsyncSession, key_result: KeyResult, checked_at: datetime) -> bool:
    latest = await repository.latest_check_in_time(db, key_result.organization_id, key_result.id)
    return latest is None or checked_at >= latest


async def apply_check_in(
    db: AsyncSession,
    actor: Principal,
    key_result: KeyResult,
    check_in: CheckIn,
    locked: repository.LockedForCheckIn,
    now: datetime,
) -> None:
    """Move the key result to the check-in's value, write both with the events telling
    what that changed, and announce the objective's health.

    A check-in naming a health sets it; one that does not hands health back to the
    derivation from progress against expected progress (at `now`, like every reader).
    """
    cycle = CycleDates.of(locked.cycle)
    was_achieved = figures.achieved(key_result)
    before = events.snapshot(key_result, TYPE_NAME)
    key_result.current_value = check_in.value
    key_result.health_manual = check_in.health is not None
    key_result.health = check_in.health or figures_of(key_result, cycle, now).health
    if check_in.confidence is not None:
        key_result.confidence = check_in.confidence
    key_result.version += 1
    key_result.updated_at = locked.written_at
    after = events.snapshot(key_result, TYPE_NAME)
    changes = events.diff(before, after)
    changes.pop("version", None)
    told = [checked_in(key_result, check_in, changes)]
    told += events.status_changes(key_result, changes, after, STATUS_EVENTS)
    told += newly_achieved(key_result, was_achieved)
    key_results = await repository.add_latest_check_in(
        db, check_in, key_result, events.appending(actor, told)
    )
    await objectives.announce_locked_health(
        db, actor, locked.objective, cycle, now, key_results, locked.written_at
    )


async def record_if_newly_achieved(
    db: AsyncSession, actor: Principal, key_result: KeyResult, was_achieved: bool
) -> None:
    await events.record_all(db, actor, newly_achieved(key_result, was_achieved))


def newly_achieved(key_result: KeyResult, was_achieved: bool) -> list[events.Draft]:
    """`key_result.achieved`, when the key result has just met its target."""
    if was_achieved or not figures.achieved(key_result):
        return []
    return [events.draft(EventType.KEY_RESULT_ACHIEVED, key_result)]


def figures_of(
    key_result: KeyResultValues,
    cycle: CycleDates,
    now: datetime,
    progress_of: ProgressOf = figures.progress,
) -> KeyResultFigures:
    """Progress, achieved, score, expected progress and health of a key result at `now`:
    the one answer every reader gets (`progress_of`: a `ProgressMemo` its objective's
    figures filled)."""
    return figures.key_result_figures(key_result, cycle, utc_date(now), progress_of)


def figures_of_each(
    key_results: Iterable[KeyResultValues], cycle: CycleDates, now: datetime
) -> list[KeyResultFigures]:
    """`figures_of` each key result of one cycle, at `now`."""
    return figures.key_results_figures(key_results, cycle, utc_date(now))


def coverage_of(
    key_result: KeyResultValues, bets: Iterable[tuple[Decimal | None, InitiativeStatus]]
) -> float | None:
    """Impact coverage of a key result by its bets (see `figures.key_result_coverage`)."""
    return figures.key_result_coverage(key_result, bets)


async def bets_of(
    db: AsyncSession, organization_id: UUID, key_result_ids: list[UUID]
) -> dict[UUID, list[tuple[Decimal | None, InitiativeStatus]]]:
    """(expected impact, initiative status) of every initiative linked to each key result."""
    return await repository.bets_of(db, organization_id, key_result_ids)


async def list_key_results(
    db: AsyncSession,
    organization_id: UUID,
    window: Window,
    *,
    objective_id: UUID | None = None,
    team_id: UUID | None = None,
    health: Health | None = None,
    now: datetime,
) -> Page:
    """Key results in creation order; `health` keeps those whose health is that one at
    `now` (derived, so filtered as the rows are read)."""

    async def has_health(rows: list[Any]) -> list[Any]:
        dates = await repository.cycle_dates(db, organization_id, [row.id for row in rows])
        return [row for row in rows if figures_of(row, dates[row.id], now).health is health]

    return await repository.list_key_results(
        db,
        organization_id,
        window,
        objective_id=objective_id,
        team_id=team_id,
        keep=None if health is None else has_health,
    )


async def announce_health(
    db: AsyncSession, actor: Principal, key_result: KeyResult, cycle: CycleDates, now: datetime
) -> bool:
    """Keep the stored health (what events last told consumers) equal to the derived one,
    recording `key_result.health_changed` when it moves. Health set by a person stays."""
    if key_result.health_manual:
        return False
    return await events.record_status_change(
        db,
        actor,
        key_result,
        "health",
        figures_of(key_result, cycle, now).health,
        HEALTH_CHANGED,
    )


async def freeze_score(
    db: AsyncSession, actor: Principal, key_result: KeyResult, cycle: CycleDates, now: datetime
) -> None:
    """Keep the key result's score at `now` as its final score (its cycle is closing), and
    tell consumers with `key_result.scored`."""
    score = Decimal(str(round(figures_of(key_result, cycle, now).progress, 6)))
    await events.record_status_change(
        db, actor, key_result, "final_score", score, EventType.KEY_RESULT_SCORED
    )


async def carry_over(
    db: AsyncSession,
    actor: Principal,
    key_result: KeyResult,
    objective: Objective,
    cycle: Cycle,
    now: datetime,
) -> KeyResult:
    """A copy of an unfinished key result under `objective` (a carried-over objective):
    where the last cycle ended is where this one starts; no history comes along."""
    carried = KeyResult(
        organization_id=key_result.organization_id,
        objective_id=objective.id,
        team_id=key_result.team_id,
        title=key_result.title,
        metric=key_result.metric,
        unit=key_result.unit,
        direction=key_result.direction,
        start_value=key_result.current_value
        if key_result.current_value is not None
        else key_result.start_value,
        target_value=key_result.target_value,
        weight=key_result.weight,
        indicator=key_result.indicator,
        health_manual=False,
    )
    carried.health = figures_of(carried, CycleDates.of(cycle), now).health
    db.add(carried)
    await db.flush()
    await events.record_created(db, actor, carried, EventType.KEY_RESULT_CREATED)
    return carried


async def sweep_health(db: AsyncSession, actor: Principal, now: datetime) -> int:
    """Announce every derived health of the actor's organization's key results that moved
    with time alone (see `okr_service.cycles.sweep`); returns how many moved."""
    moved: dict[UUID, CycleDates] = {}
    for row in await repository.unsettled_in_open_cycles(db, actor.organization_id):
        dates = CycleDates(row.starts_on, row.ends_on)
        if figures_of(row, dates, now).health is not row.health:
            moved[row.id] = dates
    announced = 0
    in_open_cycle = KeyResult.objective_id.in_(
        objectives.ids_in_open_cycles(actor.organization_id)
    )  # a cycle that closed meanwhile is final: nothing more is announced in it
    for key_result in await lock_fresh(db, KeyResult, actor.organization_id, moved, in_open_cycle):
        announced += await announce_health(db, actor, key_result, moved[key_result.id], now)
    return announced


async def remind_check_ins(
    db: AsyncSession, actor: Principal, now: datetime, cadence: timedelta
) -> int:
    """One `key_result.check_in_due` per whole `cadence` a key result of an active cycle has
    gone without a check-in (those the last reminders since then have not told yet: one per
    missed period, however often this runs); returns how many it recorded."""
    behind: dict[UUID, tuple[datetime, int]] = {}
    for row in await repository.awaiting_check_in(db, actor.organization_id):
        since = cadence_of.unchecked_since(row.last_check_in_at, row.starts_on, now)
        until = cadence_of.counted_until(row.ends_on, now)
        missed = cadence_of.missed_periods(since, until, cadence)
        if missed:
            behind[row.id] = (since, missed)
    told = await repository.latest_events_of_type(
        db, actor.organization_id, EventType.KEY_RESULT_CHECK_IN_DUE.value, list(behind)
    )
    recorded = 0
    in_active_cycle = KeyResult.objective_id.in_(
        objectives.ids_in_open_cycles(actor.organization_id)
    )
    for key_result in await lock_fresh(
        db, KeyResult, actor.organization_id, behind, in_active_cycle
    ):
        since, missed = behind[key_result.id]
        for period in range(_reminded(told.get(key_result.id), since) + 1, missed + 1):
            due = {"since": since.isoformat(), "missedPeriods": period, "cadenceDays": cadence.days}
            await events.record(
                db,
                actor,
                EventType.KEY_RESULT_CHECK_IN_DUE,
                key_result,
                object_state=events.snapshot(key_result, TYPE_NAME) | {"checkInDue": due},
            )
            recorded += 1
    return recorded


def _reminded(last_reminder: dict[str, Any] | None, since: datetime) -> int:
    """Periods already told since `since` (none if the last reminder counted from before)."""
    if last_reminder is None:
        return 0
    due = last_reminder["object"]["checkInDue"]
    return int(due["missedPeriods"]) if due["since"] == since.isoformat() else 0


def checks_of(
    key_result: Any, cycle: Any, last_check_in_at: datetime | None, now: datetime
) -> list[checks.Check]:
    """Good-practice warnings about a key result of `cycle` (anything with the cycle's
    `state` and `starts_on`)."""
    facts = checks.KeyResultFacts(
        id=key_result.id,
        title=key_result.title,
        metric=key_result.metric,
        start_value=to_float(key_result.start_value),
        last_check_in_at=last_check_in_at,
        cycle_active=cycle.state is CycleState.ACTIVE,
        cycle_starts_on=cycle.starts_on,
    )
    return checks.check_key_result(facts, now=now)


# Reads the GraphQL layer batches through its loaders (one statement per batch of keys).
latest_check_ins = repository.latest_check_ins
CHECK_INS = repository.CHECK_INS
HISTORY = repository.HISTORY
initiative_links_of = repository.initiative_links_of
details_of = repository.details_of
Details = repository.Details
