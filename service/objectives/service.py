from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.service import Principal, Scope
from service.cycles.models import Cycle
from service.events import service as events
from service.kit.errors import DomainError, ErrorCode
from service.kit.repository import get_owned
from service.kit.validation import Problems
from service.objectives import repository
from service.objectives.models import Objective
from service.okr import figures
from service.okr.enums import CycleState, ObjectiveKind, ProgressMode
from service.okr.figures import CycleDates
from service.teams.models import Team

TYPE_NAME = "Objective"
STATUS_EVENTS = {"state": "objective.state_changed", "health": "objective.health_changed"}


async def create_objective(
    db: AsyncSession,
    actor: Principal,
    *,
    title: str,
    description: str | None,
    team_id: UUID,
    cycle_id: UUID,
    kind: ObjectiveKind,
    owner: str | None = None,
    progress_mode: ProgressMode = ProgressMode.KEY_RESULTS,
) -> Objective:
    actor.require(Scope.WRITE)
    problems = Problems()
    title = problems.name("title", title) or ""
    problems.text("description", description)
    problems.name("owner", owner, required=False)
    problems.raise_if_any()
    await get_owned(db, Team, actor.organization_id, team_id, field="teamId")
    cycle = await get_owned(db, Cycle, actor.organization_id, cycle_id, field="cycleId")
    ensure_open(cycle, "cycleId")
    objective = Objective(
        organization_id=actor.organization_id,
        title=title,
        description=description,
        team_id=team_id,
        cycle_id=cycle_id,
        kind=kind,
        owner=owner,
        progress_mode=progress_mode,
    )
    db.add(objective)
    await db.flush()
    await events.record_created(db, actor, objective, TYPE_NAME)
    return objective


async def update_objective(
    db: AsyncSession, actor: Principal, objective_id: UUID, changes: dict[str, Any]
) -> Objective:
    actor.require(Scope.WRITE)
    problems = Problems()
    if "title" in changes:
        changes["title"] = problems.name("title", changes["title"])
    problems.text("description", changes.get("description"))
    problems.name("owner", changes.get("owner"), required=False)
    problems.raise_if_any()
    objective = await get_owned(
        db, Objective, actor.organization_id, objective_id, field="id", for_update=True
    )
    if "team_id" in changes:
        await get_owned(db, Team, actor.organization_id, changes["team_id"], field="teamId")
    if "cycle_id" in changes:
        cycle = await get_owned(
            db, Cycle, actor.organization_id, changes["cycle_id"], field="cycleId"
        )
        ensure_open(cycle, "cycleId")
    if "health" in changes:
        changes["health_manual"] = True
    await events.apply_update(db, actor, objective, TYPE_NAME, changes, status_fields=STATUS_EVENTS)
    return objective


async def delete_objective(db: AsyncSession, actor: Principal, objective_id: UUID) -> Objective:
    """Deletes the objective with its key results, check-ins and links."""
    actor.require(Scope.WRITE)
    objective = await get_owned(
        db, Objective, actor.organization_id, objective_id, field="id", for_update=True
    )
    state = events.snapshot(objective, TYPE_NAME)
    await db.delete(objective)
    await db.flush()
    await events.record_deleted(db, actor, objective, TYPE_NAME, state)
    return objective


def ensure_open(cycle: Cycle, field: str) -> None:
    if cycle.state is CycleState.CLOSED:
        raise DomainError.single(
            field, "This cycle is closed: its OKRs are final.", ErrorCode.ALREADY_CLOSED
        )


async def refresh_objective_health(
    db: AsyncSession, actor: Principal, objective_id: UUID, cycle: Cycle
) -> None:
    """Store the objective's derived health after one of its key results moved, emitting
    `objective.health_changed` when it changes. Health set by a person is left alone."""
    objective = await get_owned(db, Objective, actor.organization_id, objective_id, field="id")
    if objective.health_manual:
        return
    key_results = await repository.key_results_of_objective(db, actor.organization_id, objective_id)
    derived = figures.objective_health(
        key_results, CycleDates(cycle.starts_on, cycle.ends_on), datetime.now(UTC).date()
    )
    if derived is not None and derived != objective.health:
        await db.refresh(objective, with_for_update=True)
        await events.apply_update(
            db, actor, objective, TYPE_NAME, {"health": derived}, status_fields=STATUS_EVENTS
        )
