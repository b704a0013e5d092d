from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.access import authorize_structure
from service.cycles import repository
from service.cycles.models import Cycle
from service.events import service as events
from service.kit.errors import DomainError, ErrorCode
from service.kit.principal import Principal
from service.kit.repository import get_owned, is_ancestor_or_self, lock_organization
from service.kit.validation import Problems
from service.objectives.models import Objective
from service.okr import figures
from service.okr.enums import CycleState, ObjectiveState

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
    await events.record_created(db, actor, cycle, TYPE_NAME)
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
        db, actor, cycle, TYPE_NAME, changes, status_fields={"state": "cycle.state_changed"}
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


async def ensure_cycle_open(
    db: AsyncSession, organization_id: UUID, cycle_id: UUID, field: str
) -> Cycle:
    """The cycle, share-locked so closeCycle (which locks it for update) waits for this
    write or this write for it: nothing lands in a cycle while its scores are frozen."""
    cycle = await get_owned(db, Cycle, organization_id, cycle_id, field=field, for_share=True)
    ensure_open(cycle, field)
    return cycle


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


async def close_cycle(
    db: AsyncSession, actor: Principal, cycle_id: UUID, retrospective: dict[str, str | None]
) -> Cycle:
    """Freeze every key result's score, close the cycle's active objectives, keep the
    retrospective, and close the cycle: one transaction, so a report never sees half."""
    authorize_structure(actor)
    problems = Problems()
    for field, text in retrospective.items():
        problems.text(f"retrospective.{field}", text)
    problems.raise_if_any()
    cycle = await get_owned(
        db, Cycle, actor.organization_id, cycle_id, field="cycleId", for_update=True
    )
    if cycle.state is CycleState.CLOSED:
        raise DomainError.single(
            "cycleId", "This cycle is already closed.", ErrorCode.ALREADY_CLOSED
        )
    # Key results before objectives: the order a check-in takes its locks in, so the two
    # queue behind each other instead of deadlocking.
    key_results = await repository.key_results_of_cycle(db, actor.organization_id, cycle.id)
    objectives = await repository.objectives_of_cycle(
        db, actor.organization_id, cycle.id, lock=True
    )
    for key_result in key_results:
        key_result.final_score = Decimal(str(round(figures.progress(key_result), 6)))
    for objective in objectives:
        if objective.state is ObjectiveState.ACTIVE:
            await events.apply_update(
                db,
                actor,
                objective,
                "Objective",
                {"state": ObjectiveState.CLOSED},
                status_fields={"state": "objective.state_changed"},
            )
    await events.apply_update(
        db,
        actor,
        cycle,
        TYPE_NAME,
        {"state": CycleState.CLOSED, "retrospective": retrospective},
        status_fields={"state": "cycle.state_changed"},
    )
    return cycle


# Reads the GraphQL layer asks for: pages, and batches behind its loaders.
list_cycles = repository.list_cycles
children = repository.children
objectives_of_cycles = repository.objectives_of_cycles
