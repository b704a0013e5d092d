"""Closing a cycle: scores and healths frozen, objectives closed, the retrospective kept."""

from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.auth.access import authorize_structure
from okr_service.cycles import repository as cycles_repository
from okr_service.cycles.models import Cycle
from okr_service.events import service as events
from okr_service.events.catalog import EventType
from okr_service.key_results import service as key_results_service
from okr_service.kit.errors import DomainError, ErrorCode
from okr_service.kit.principal import Principal
from okr_service.kit.repository import get_owned
from okr_service.kit.validation import Problems
from okr_service.objectives import service as objectives_service
from okr_service.okr.enums import CycleState, ObjectiveState
from okr_service.okr.figures import CycleDates


async def close_cycle(
    db: AsyncSession,
    actor: Principal,
    cycle_id: UUID,
    retrospective: dict[str, str | None],
    now: datetime,
) -> Cycle:
    """Freeze every key result's score and every health, close the cycle's active
    objectives, keep the retrospective, and close the cycle: one transaction, so a report
    never sees half. Healths are announced as they stand at `now` first: from here on
    they are what events last said."""
    authorize_structure(actor)
    problems = Problems()
    retrospective = {
        field: problems.text(f"retrospective.{field}", text)
        for field, text in retrospective.items()
    }
    problems.raise_if_any()
    # Writers under way commit first (a cycle of another organization locks nothing).
    await cycles_repository.take_turn_to_close(db, actor.organization_id, cycle_id)
    cycle = await get_owned(
        db, Cycle, actor.organization_id, cycle_id, field="cycleId", for_update=True
    )
    if cycle.state is CycleState.CLOSED:
        raise DomainError.single(
            "cycleId", "This cycle is already closed.", ErrorCode.ALREADY_CLOSED
        )
    # Key results before objectives: the order writers take their row locks in.
    key_results = await cycles_repository.key_results_of_cycle(db, actor.organization_id, cycle.id)
    objectives = await cycles_repository.objectives_of_cycle(
        db, actor.organization_id, cycle.id, lock=True
    )
    dates = CycleDates.of(cycle)
    for key_result in key_results:
        await key_results_service.announce_health(db, actor, key_result, dates, now)
        await key_results_service.freeze_score(db, actor, key_result, dates, now)
    await objectives_service.announce_healths(db, actor, objectives, now)
    for objective in objectives:
        if objective.state is ObjectiveState.ACTIVE:
            await events.apply_update(
                db,
                actor,
                objective,
                EventType.OBJECTIVE_UPDATED,
                {"state": ObjectiveState.CLOSED},
                status_fields={"state": EventType.OBJECTIVE_STATE_CHANGED},
            )
    await events.apply_update(
        db,
        actor,
        cycle,
        EventType.CYCLE_UPDATED,
        {"state": CycleState.CLOSED, "retrospective": retrospective},
        status_fields={"state": EventType.CYCLE_STATE_CHANGED},
    )
    return cycle
