from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.access import authorize_team
from service.auth.service import Principal, Scope
from service.cycles import repository as cycles_repository
from service.cycles.models import Cycle
from service.events import service as events
from service.key_results.models import KeyResult
from service.kit.errors import DomainError, ErrorCode
from service.kit.repository import get_owned
from service.kit.validation import Problems
from service.objectives import repository
from service.objectives.models import Objective
from service.okr import figures
from service.okr.enums import CycleState, ObjectiveKind, ObjectiveState, ProgressMode
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
    await ensure_cycle_open(db, actor.organization_id, cycle_id, "cycleId")
    await authorize_team(db, actor, team_id)
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
    await authorize_team(db, actor, objective.team_id)
    if "team_id" in changes:
        await authorize_team(db, actor, changes["team_id"])  # moving it: the new team too
    await ensure_cycle_open(db, actor.organization_id, objective.cycle_id, "id")
    if "cycle_id" in changes:
        await ensure_cycle_open(db, actor.organization_id, changes["cycle_id"], "cycleId")
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
    await authorize_team(db, actor, objective.team_id)
    await ensure_cycle_open(db, actor.organization_id, objective.cycle_id, "id")
    state = events.snapshot(objective, TYPE_NAME)
    await db.delete(objective)
    await db.flush()
    await events.record_deleted(db, actor, objective, TYPE_NAME, state)
    return objective


async def ensure_cycle_open(
    db: AsyncSession, organization_id: UUID, cycle_id: UUID, field: str
) -> Cycle:
    """The cycle, share-locked so closeCycle (which locks it for update) waits for this
    write or this write for it: nothing lands in a cycle while its scores are frozen."""
    cycle = await get_owned(db, Cycle, organization_id, cycle_id, field=field, for_share=True)
    ensure_open(cycle, field)
    return cycle


def ensure_open(cycle: Cycle, field: str) -> None:
    if cycle.state is CycleState.CLOSED:
        raise DomainError.single(
            field, "This cycle is closed: its OKRs are final.", ErrorCode.ALREADY_CLOSED
        )


async def refresh_objective_health(
    db: AsyncSession, actor: Principal, objective: Objective, cycle: Cycle
) -> None:
    """Store the objective's derived health after one of its key results moved, emitting
    `objective.health_changed` when it changes. Health set by a person is left alone."""
    # A roll-up (ALIGNED, BOTH) depends on other objectives' key results: computed when read.
    if objective.health_manual or objective.progress_mode is not ProgressMode.KEY_RESULTS:
        return
    key_results = await repository.key_results_of_objectives(
        db, actor.organization_id, [objective.id]
    )
    derived = figures.objective_health(
        key_results, CycleDates(cycle.starts_on, cycle.ends_on), datetime.now(UTC).date()
    )
    if derived is not None and derived != objective.health:
        await db.refresh(objective, with_for_update=True)
        if objective.health_manual:  # set by a person while we computed
            return
        await events.apply_update(
            db, actor, objective, TYPE_NAME, {"health": derived}, status_fields=STATUS_EVENTS
        )


async def carry_over_objectives(
    db: AsyncSession,
    actor: Principal,
    *,
    from_cycle_id: UUID,
    to_cycle_id: UUID,
    objective_ids: list[UUID] | None,
) -> tuple[list[Objective], list[UUID]]:
    """Copy unfinished objectives into the next cycle, without their history.

    Each copy keeps its origin and takes the key results not yet achieved, whose current
    value becomes the new baseline. Objectives with every key result achieved, cancelled
    ones, and those without key results left to pursue are skipped and returned as such.
    """
    actor.require(Scope.WRITE)
    org = actor.organization_id
    if from_cycle_id == to_cycle_id:
        raise DomainError.single(
            "toCycleId", "Carry over into another cycle.", ErrorCode.SELF_REFERENCE
        )
    await get_owned(db, Cycle, org, from_cycle_id, field="fromCycleId")
    target = await ensure_cycle_open(db, org, to_cycle_id, "toCycleId")
    sources = await cycles_repository.objectives_of_cycle(db, org, from_cycle_id)
    if objective_ids is not None:
        missing = set(objective_ids) - {objective.id for objective in sources}
        if missing:
            raise DomainError.single(
                "objectiveIds",
                f"{len(missing)} of these objectives are not in the source cycle.",
                ErrorCode.NOT_FOUND,
            )
        sources = [objective for objective in sources if objective.id in set(objective_ids)]
    for team_id in {objective.team_id for objective in sources}:
        await authorize_team(db, actor, team_id)  # a copy belongs to its source's team
    unfinished: dict[UUID, list[KeyResult]] = {source.id: [] for source in sources}
    for kr in await repository.key_results_of_objectives(db, org, list(unfinished)):
        if not figures.achieved(kr):
            unfinished[kr.objective_id].append(kr)
    copies, skipped = [], []
    for source in sources:
        if source.state is ObjectiveState.CANCELLED or not unfinished[source.id]:
            skipped.append(source.id)
            continue
        copies.append(await copy_objective(db, actor, source, target, unfinished[source.id]))
    return copies, skipped


async def copy_objective(
    db: AsyncSession,
    actor: Principal,
    source: Objective,
    cycle: Cycle,
    key_results: Sequence[KeyResult],
) -> Objective:
    from service.key_results.service import TYPE_NAME as KEY_RESULT

    copy = Objective(
        organization_id=source.organization_id,
        team_id=source.team_id,
        cycle_id=cycle.id,
        title=source.title,
        description=source.description,
        owner=source.owner,
        kind=source.kind,
        progress_mode=source.progress_mode,
        origin_id=source.id,
    )
    db.add(copy)
    await db.flush()
    await events.record_created(db, actor, copy, TYPE_NAME)
    for key_result in key_results:
        carried = KeyResult(
            organization_id=key_result.organization_id,
            objective_id=copy.id,
            team_id=key_result.team_id,
            title=key_result.title,
            metric=key_result.metric,
            unit=key_result.unit,
            direction=key_result.direction,
            # Where the last cycle ended is where this one starts.
            start_value=key_result.current_value
            if key_result.current_value is not None
            else key_result.start_value,
            target_value=key_result.target_value,
            weight=key_result.weight,
            indicator=key_result.indicator,
        )
        db.add(carried)
        await db.flush()
        await events.record_created(db, actor, carried, KEY_RESULT)
    return copy
