from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.auth.access import authorize_structure
from okr_service.cycles import repository
from okr_service.cycles.models import Cycle
from okr_service.events import service as events
from okr_service.events.catalog import EventType
from okr_service.kit.errors import DomainError, ErrorCode
from okr_service.kit.principal import Principal
from okr_service.kit.repository import get_owned, is_ancestor_or_self, lock_organization, not_found
from okr_service.kit.rows import Record
from okr_service.kit.validation import Problems
from okr_service.objectives.models import Objective
from okr_service.okr.enums import CycleState

TYPE_NAME = "Cycle"

# Closing freezes scores, so it has its own mutation (closeCycle), not a plain state change.
ALLOWED_TRANSITIONS = {
    CycleState.PLANNING: {CycleState.ACTIVE},
    CycleState.ACTIVE: {CycleState.REVIEW, CycleState.PLANNING},
    CycleState.REVIEW: {CycleState.ACTIVE},
    CycleState.CLOSED: set(),
}


async def create_cycle(
    db: AsyncSession,
    actor: Principal,
    *,
    name: str,
    starts_on: date,
    ends_on: date,
    parent_id: UUID | None,
) -> Cycle:
    authorize_structure(actor)
    problems = Problems()
    name = problems.name("name", name) or ""
    problems.raise_if_any()
    parent = (
        await get_owned(db, Cycle, actor.organization_id, parent_id, field="parentId")
        if parent_id
        else None
    )
    check_dates(starts_on, ends_on, parent)
    cycle = Cycle(
        organization_id=actor.organization_id,
        name=name,
        starts_on=starts_on,
        ends_on=ends_on,
        parent_id=parent_id,
        state=CycleState.PLANNING,
    )
    db.add(cycle)
    await db.flush()
    await events.record_created(db, actor, cycle, EventType.CYCLE_CREATED)
    return cycle


async def update_cycle(
    db: AsyncSession, actor: Principal, cycle_id: UUID, changes: dict[str, Any]
) -> Cycle:
    authorize_structure(actor)
    problems = Problems()
    if "name" in changes:
        changes["name"] = problems.name("name", changes["name"])
    problems.raise_if_any()
    cycle = await get_owned(db, Cycle, actor.organization_id, cycle_id, field="id", for_update=True)
    if cycle.state is CycleState.CLOSED:
        raise DomainError.single("id", "A closed cycle cannot change.", ErrorCode.ALREADY_CLOSED)
    new_state = changes.get("state")
    if new_state not in (None, cycle.state, *ALLOWED_TRANSITIONS[cycle.state]):
        raise DomainError.single(
            "state",
            f"A cycle cannot go from {cycle.state} to {new_state}"
            + (" (use closeCycle)." if new_state is CycleState.CLOSED else "."),
            ErrorCode.INVALID_STATE,
        )
    parent_id = changes.get("parent_id", cycle.parent_id)
    if parent_id == cycle.id:
        raise DomainError.single(
            "parentId", "A cycle cannot contain itself.", ErrorCode.SELF_REFERENCE
        )
    parent = (
        await get_owned(db, Cycle, actor.organization_id, parent_id, field="parentId")
        if parent_id
        else None
    )
    moving = parent_id is not None and parent_id != cycle.parent_id
    if moving:
        await lock_organization(db, actor.organization_id, "cycles")  # moves take turns
    if (
        moving
        and parent_id is not None
        and await is_ancestor_or_self(db, Cycle, actor.organization_id, cycle.id, parent_id)
    ):
        raise DomainError.single(
            "parentId", "A cycle cannot sit inside itself.", ErrorCode.SELF_REFERENCE
        )
    starts_on = changes.get("starts_on", cycle.starts_on)
    ends_on = changes.get("ends_on", cycle.ends_on)
    check_dates(starts_on, ends_on, parent)
    if "starts_on" in changes or "ends_on" in changes:
        await check_children_fit(db, actor.organization_id, cycle.id, starts_on, ends_on)
    await events.apply_update(
        db,
        actor,
        cycle,
        EventType.CYCLE_UPDATED,
        changes,
        status_fields={"state": EventType.CYCLE_STATE_CHANGED},
    )
    return cycle


async def objectives_of(
    db: AsyncSession,
    organization_id: UUID,
    cycle_id: UUID,
    *,
    team_ids: Sequence[UUID] | None = None,
) -> Sequence[Objective]:
    """The cycle's objectives in key order (of `team_ids` only, when given)."""
    return await repository.objectives_of_cycle(db, organization_id, cycle_id, team_ids=team_ids)


async def objective_rows_of(
    db: AsyncSession, organization_id: UUID, cycle_id: UUID, *, team_ids: Sequence[UUID] | None
) -> list[Record]:
    """The cycle's objectives as rows (to read, not to change), in key order, of `team_ids`
    only when given: a report reads hundreds, and rows cost a fraction of entities."""
    return await repository.objective_rows_of_cycle(db, organization_id, cycle_id, team_ids)


# Every write into a cycle (objectives, key results, check-ins, initiative and alignment
# links) first takes its turn to write (a shared advisory lock, see the repository), then
# reads the cycle and its own rows: closeCycle takes the turn exclusively before it locks
# anything, so a write either commits before the close starts or waits for it to commit
# and then reads the cycle closed. Never a check-in landing in a closed cycle, never a
# deadlock between the two.


async def ensure_cycle_open(
    db: AsyncSession, organization_id: UUID, cycle_id: UUID, field: str
) -> Cycle:
    """The cycle, open, with this transaction's turn to write into it."""
    await repository.take_turn_to_write(db, organization_id, cycle_id)
    cycle = await repository.read_fresh(db, organization_id, cycle_id)
    if cycle is None:
        raise not_found(field)
    ensure_open(cycle, field)
    return cycle


async def take_turn_in_objective(
    db: AsyncSession, organization_id: UUID, objective_id: UUID, field: str
) -> UUID:
    """Take the turn to write into the objective's cycle; that cycle's ID. NOT_FOUND
    without the objective. The caller then reads the objective (and the cycle) afresh,
    and checks them with `ensure_still_in` and `ensure_open`."""
    cycle_id = await repository.take_turn_in_objective(db, organization_id, objective_id)
    if cycle_id is None:
        raise not_found(field)
    return cycle_id


async def take_turn_in_key_result(
    db: AsyncSession, organization_id: UUID, key_result_id: UUID, field: str
) -> UUID:
    """`take_turn_in_objective` for the key result's cycle (its objective's)."""
    cycle_id = await repository.take_turn_in_key_result(db, organization_id, key_result_id)
    if cycle_id is None:
        raise not_found(field)
    return cycle_id


async def ensure_objective_cycle_open(
    db: AsyncSession, organization_id: UUID, objective_id: UUID, field: str
) -> Cycle:
    """The objective's cycle, open, with the turn to write into it."""
    cycle_id = await take_turn_in_objective(db, organization_id, objective_id, field)
    return await ensure_cycle_open(db, organization_id, cycle_id, field)


async def ensure_key_result_cycle_open(
    db: AsyncSession, organization_id: UUID, key_result_id: UUID, field: str
) -> Cycle:
    """The key result's cycle, open, with the turn to write into it."""
    cycle_id = await take_turn_in_key_result(db, organization_id, key_result_id, field)
    return await ensure_cycle_open(db, organization_id, cycle_id, field)


def ensure_still_in(turn_cycle_id: UUID, cycle: Cycle, field: str) -> None:
    """The cycle read after taking the turn must be the one the turn was taken in: a row
    moved to another cycle in between would be written there without its turn."""
    if cycle.id != turn_cycle_id:
        raise DomainError.single(
            field, "It moved to another cycle meanwhile; try again.", ErrorCode.VERSION_CONFLICT
        )


def ensure_open(cycle: Cycle, field: str) -> None:
    """A closed cycle's OKRs are final: every write into one is refused."""
    if cycle.state is CycleState.CLOSED:
        raise DomainError.single(
            field, "This cycle is closed: its OKRs are final.", ErrorCode.ALREADY_CLOSED
        )


def check_dates(starts_on: date, ends_on: date, parent: Cycle | None) -> None:
    if ends_on < starts_on:
        raise DomainError.single(
            "endsOn", "A cycle cannot end before it starts.", ErrorCode.INVALID_DATE_RANGE
        )
    if parent is not None and not (parent.starts_on <= starts_on and ends_on <= parent.ends_on):
        raise DomainError.single(
            "parentId",
            f"A cycle must lie within its parent ({parent.starts_on} to {parent.ends_on}).",
            ErrorCode.INVALID_DATE_RANGE,
        )


async def check_children_fit(
    db: AsyncSession, organization_id: UUID, cycle_id: UUID, starts_on: date, ends_on: date
) -> None:
    """Re-dating a cycle must keep the cycles nested in it inside."""
    first_start, last_end = await repository.children_span(db, organization_id, cycle_id)
    for field, outside in (
        ("startsOn", first_start is not None and starts_on > first_start),
        ("endsOn", last_end is not None and ends_on < last_end),
    ):
        if outside:
            raise DomainError.single(
                field,
                f"The cycles nested in this one run from {first_start} to {last_end}.",
                ErrorCode.INVALID_DATE_RANGE,
            )


# Reads the GraphQL layer asks for: pages, and batches behind its loaders.
list_cycles = repository.list_cycles
organizations_with_open_cycles = repository.organizations_with_open_cycles
children = repository.children
objectives_of_cycles = repository.objectives_of_cycles
CHILDREN = repository.CHILDREN
OBJECTIVES = repository.OBJECTIVES
