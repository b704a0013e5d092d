from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.alignment import service as alignment
from okr_service.auth.access import authorize_team
from okr_service.cycles.models import Cycle
from okr_service.cycles.service import (
    ensure_cycle_open,
    ensure_open,
    ensure_still_in,
    take_turn_in_objective,
)
from okr_service.events import service as events
from okr_service.events.catalog import EventType
from okr_service.key_results.models import KeyResult
from okr_service.kit.clock import utc_date
from okr_service.kit.principal import Principal, Scope
from okr_service.kit.repository import Page, Window, get_owned, lock_fresh, not_found
from okr_service.kit.validation import Problems
from okr_service.objectives import repository
from okr_service.objectives.models import Objective
from okr_service.okr import checks
from okr_service.okr import figures as okr_figures
from okr_service.okr.enums import Health, ObjectiveKind, ObjectiveState, ProgressMode
from okr_service.okr.figures import (
    MAX_ROLLUP_DEPTH,
    ContributionGraph,
    CycleDates,
    ObjectiveFigures,
    ProgressMemo,
    RollUp,
)
from okr_service.teams.models import Team

TYPE_NAME = "Objective"
HEALTH_CHANGED = EventType.OBJECTIVE_HEALTH_CHANGED
STATUS_EVENTS = {"state": EventType.OBJECTIVE_STATE_CHANGED, "health": HEALTH_CHANGED}


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
    description = problems.text("description", description)
    owner = problems.name("owner", owner, required=False)
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
    await events.record_created(db, actor, objective, EventType.OBJECTIVE_CREATED)
    return objective


async def update_objective(
    db: AsyncSession, actor: Principal, objective_id: UUID, changes: dict[str, Any], now: datetime
) -> Objective:
    actor.require(Scope.WRITE)
    problems = Problems()
    if "title" in changes:
        changes["title"] = problems.name("title", changes["title"])
    if "description" in changes:
        changes["description"] = problems.text("description", changes["description"])
    if "owner" in changes:
        changes["owner"] = problems.name("owner", changes["owner"], required=False)
    problems.raise_if_any()
    objective = await lock_in_open_cycle(db, actor.organization_id, objective_id)
    if "team_id" in changes:
        await get_owned(db, Team, actor.organization_id, changes["team_id"], field="teamId")
    await authorize_team(db, actor, objective.team_id)
    if "team_id" in changes:
        await authorize_team(db, actor, changes["team_id"])  # moving it: the new team too
    if "cycle_id" in changes:
        await ensure_cycle_open(db, actor.organization_id, changes["cycle_id"], "cycleId")
    if "health" in changes:
        changes["health_manual"] = True
    await events.apply_update(
        db, actor, objective, EventType.OBJECTIVE_UPDATED, changes, status_fields=STATUS_EVENTS
    )
    await announce_health(db, actor, objective, now)
    return objective


async def delete_objective(db: AsyncSession, actor: Principal, objective_id: UUID) -> Objective:
    """Deletes the objective with its key results, check-ins and links."""
    actor.require(Scope.WRITE)
    objective = await lock_in_open_cycle(db, actor.organization_id, objective_id)
    await authorize_team(db, actor, objective.team_id)
    await events.delete(db, actor, objective)
    return objective


async def lock_in_open_cycle(
    db: AsyncSession, organization_id: UUID, objective_id: UUID
) -> Objective:
    """The objective locked for a write, in its open cycle: two statements, the turn to
    write into the cycle first (see `okr_service.cycles.service`), so a write queued behind
    closeCycle reads the cycle closed instead of landing in it."""
    turn = await take_turn_in_objective(db, organization_id, objective_id, "id")
    found = await repository.lock_with_cycle(db, organization_id, objective_id)
    if found is None:  # deleted meanwhile
        raise not_found("id")
    objective, cycle = found
    ensure_still_in(turn, cycle, "id")
    ensure_open(cycle, "id")
    return objective


async def figures(
    db: AsyncSession,
    organization_id: UUID,
    objective_ids: Sequence[UUID],
    now: datetime,
    *,
    key_results: Mapping[UUID, Sequence[Any]] | None = None,
) -> dict[UUID, ObjectiveFigures]:
    """Progress (rolled up as each objective's mode asks), score, expected progress and
    health of these objectives at `now`: the one answer every reader gets.

    A fixed number of statements, whatever the count: the objectives with their cycles'
    dates; for those rolling up, the cascade below them and its objectives; then every
    key result involved (but those of `key_results`, rows the caller read already).
    """
    rows = await repository.with_cycle_dates(db, organization_id, objective_ids)
    dated = [(row, CycleDates(row.starts_on, row.ends_on, row.cycle_closed)) for row in rows]
    return await figures_of_read(db, organization_id, dated, now, key_results=key_results)


async def figures_of_read(
    db: AsyncSession,
    organization_id: UUID,
    objectives: Sequence[tuple[Any, CycleDates]],
    now: datetime,
    *,
    key_results: Mapping[UUID, Sequence[Any]] | None = None,
    progress_of: ProgressMemo | None = None,
) -> dict[UUID, ObjectiveFigures]:
    """`figures` of objectives the caller has read already, each with its cycle's dates;
    `progress_of` keeps the key results' progress for the caller's other figures."""
    graph = await contribution_graph(
        db, organization_id, [row for row, _ in objectives], key_results or {}
    )
    memo = ProgressMemo() if progress_of is None else progress_of
    roll_up = RollUp(graph, memo)
    today = utc_date(now)
    return {
        row.id: okr_figures.objective_figures(
            row, graph.key_results.get(row.id, ()), roll_up.progress(row.id), dates, today, memo
        )
        for row, dates in objectives
    }


async def contribution_graph(
    db: AsyncSession,
    organization_id: UUID,
    objectives: Sequence[Any],
    known_key_results: Mapping[UUID, Sequence[Any]],
) -> ContributionGraph:
    """What a roll-up of `objectives` reads: the cascade below those that roll up, and the
    mode and key results of every objective in it (those known already not read again)."""
    modes = {row.id: row.progress_mode for row in objectives}
    rolling = [row.id for row in objectives if row.progress_mode is not ProgressMode.KEY_RESULTS]
    edges = await alignment.contributions_below(db, organization_id, rolling, MAX_ROLLUP_DEPTH)
    contributors: dict[UUID, list[UUID]] = {}
    for child, parent, _, _ in edges:
        siblings = contributors.setdefault(parent, [])
        if child not in siblings:
            siblings.append(child)
    below = {child for child, _, _, _ in edges} - set(modes)
    if below:
        modes |= await repository.progress_modes(db, organization_id, below)
    key_results = {id_: found for id_, found in known_key_results.items() if id_ in modes}
    missing = [id_ for id_ in modes if id_ not in key_results]
    if missing:
        key_results |= await repository.key_results_of(db, organization_id, missing)
    return ContributionGraph(modes=modes, key_results=key_results, contributors=contributors)


async def announce_health(
    db: AsyncSession,
    actor: Principal,
    objective: Objective,
    now: datetime,
    cycle: CycleDates | None = None,
) -> bool:
    """Keep the stored health (what events last told consumers) equal to the derived one,
    recording `objective.health_changed` when it moves. Health set by a person stays.

    `cycle`: the dates of the objective's cycle, when the caller holds them (one statement
    fewer: a check-in's path). The objective is locked and read afresh first: two writes
    to its key results then announce one after the other, each from the other's result."""
    await db.refresh(objective, with_for_update=True)
    if objective.health_manual:
        return False
    organization_id = objective.organization_id
    found = (
        await figures(db, organization_id, [objective.id], now)
        if cycle is None
        else await figures_of_read(db, organization_id, [(objective, cycle)], now)
    )
    derived = found[objective.id]
    return await events.record_status_change(
        db, actor, objective, "health", derived.health, HEALTH_CHANGED
    )


async def announce_locked_health(
    db: AsyncSession,
    actor: Principal,
    objective: Objective,
    cycle: CycleDates,
    now: datetime,
    key_results: Sequence[Any],
    written_at: datetime,
) -> bool:
    """`announce_health` for an objective the caller locked (and read afresh) before it
    read its key results, `key_results` (with its own changes), as a model no session holds
    (`written_at`: the transaction's now(), its new `updated_at`)."""
    if objective.health_manual:
        return False
    organization_id = objective.organization_id
    found = await figures_of_read(
        db, organization_id, [(objective, cycle)], now, key_results={objective.id: key_results}
    )
    before, derived = objective.health, found[objective.id].health
    if derived == before:
        return False
    objective.health, objective.updated_at = derived, written_at
    told = events.appending(
        actor, [events.status_changed(HEALTH_CHANGED, objective, "health", before)]
    )
    await repository.set_health(db, organization_id, objective.id, derived, told)
    return True


async def announce_healths(
    db: AsyncSession, actor: Principal, objectives: Sequence[Objective], now: datetime
) -> None:
    """`announce_health` for objectives the caller holds locked, their figures read at once
    (closing a cycle freezes every one)."""
    derived = [o for o in objectives if not o.health_manual]
    found = await figures(db, actor.organization_id, [o.id for o in derived], now)
    for objective in derived:
        await events.record_status_change(
            db, actor, objective, "health", found[objective.id].health, HEALTH_CHANGED
        )


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
    health: Health | None = None,
    now: datetime,
) -> Page:
    """Objectives in creation order; `health` keeps those whose health is that one at
    `now` (derived, so filtered as the rows are read)."""

    async def has_health(rows: list[Any]) -> list[Any]:
        found = await figures(db, organization_id, [row.id for row in rows], now)
        return [row for row in rows if found[row.id].health is health]

    return await repository.list_objectives(
        db,
        organization_id,
        window,
        cycle_id=cycle_id,
        team_id=team_id,
        include_subteams=include_subteams,
        state=state,
        kind=kind,
        keep=None if health is None else has_health,
    )


async def copy_objective(
    db: AsyncSession, actor: Principal, source: Objective, cycle: Cycle
) -> Objective:
    """A copy of `source` in `cycle`, remembering its origin, without key results."""
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
    await events.record_created(db, actor, copy, EventType.OBJECTIVE_CREATED)
    return copy


async def key_results_of(
    db: AsyncSession, organization_id: UUID, objective_ids: Sequence[UUID]
) -> Sequence[KeyResult]:
    """The key results of these objectives, as entities (to change or copy)."""
    return await repository.key_results_of_objectives(db, organization_id, objective_ids)


async def sweep_health(db: AsyncSession, actor: Principal, now: datetime) -> int:
    """Announce every derived health of the actor's organization's objectives that moved
    with time or with the objectives rolling up into them (see `okr_service.cycles.sweep`);
    returns how many moved."""
    organization_id = actor.organization_id
    stored = dict(await repository.unsettled_in_open_cycles(db, organization_id))
    found = await figures(db, organization_id, list(stored), now)
    moved = [id_ for id_, health in stored.items() if found[id_].health is not health]
    if not moved:
        return 0
    in_open_cycle = Objective.id.in_(ids_in_open_cycles(organization_id))
    locked = await lock_fresh(db, Objective, organization_id, moved, in_open_cycle)
    before = {objective.id: objective.health for objective in locked}
    await announce_healths(db, actor, locked, now)
    return sum(1 for objective in locked if objective.health is not before[objective.id])


def checks_of(
    objective: Any, *, team_has_parent: bool, key_result_count: int, contributes_to_count: int
) -> list[checks.Check]:
    """Good-practice warnings about an objective, from what its readers already hold."""
    return checks.check_objective(
        checks.ObjectiveFacts(
            id=objective.id,
            title=objective.title,
            team_id=objective.team_id,
            team_has_parent=team_has_parent,
            key_result_count=key_result_count,
            contributes_to_count=contributes_to_count,
        )
    )


# Reads the GraphQL layer batches through its loaders (one statement per batch of keys).
initiatives_of = repository.initiatives_of
key_results_by_objective = repository.key_results_of
with_figure_inputs = repository.with_figure_inputs
ids_in_open_cycles = repository.ids_in_open_cycles
