"""Cycle review and OKR quality checks, computed from one load of a cycle's facts."""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.cycles.models import Cycle
from okr_service.key_results import service as key_results
from okr_service.kit.principal import Principal, Scope
from okr_service.kit.repository import get_owned, get_owned_row
from okr_service.kit.rows import Record
from okr_service.objectives import service as objectives_service
from okr_service.okr import checks, report
from okr_service.okr.enums import ObjectiveState
from okr_service.okr.figures import CycleDates
from okr_service.okr.report import CycleReport, KeyResultLine
from okr_service.reports import repository
from okr_service.teams.models import Team

SANDBAGGING_LOOKBACK = 3  # closed cycles looked at per team


@dataclass
class CycleFacts:
    """Everything a report or a check needs about one cycle (optionally one team's subtree):
    its objectives, each with how many things it contributes to (`contributes_to_count`),
    and their key results, each with its last check-in time (`last_checked_at`)."""

    cycle: Record
    teams: dict[UUID, Record]
    objectives: Sequence[Record]
    key_results: Sequence[Record]

    @property
    def dates(self) -> CycleDates:
        return CycleDates.of(self.cycle)

    def live_objectives(self) -> list[Record]:
        """The objectives that count: those not cancelled."""
        return [o for o in self.objectives if o.state is not ObjectiveState.CANCELLED]

    def live_key_results(self) -> list[Record]:
        """Key results that count: those of objectives not cancelled."""
        live = {o.id for o in self.live_objectives()}
        return [kr for kr in self.key_results if kr.objective_id in live]


async def load_cycle_facts(
    db: AsyncSession, actor: Principal, cycle_id: UUID, team_id: UUID | None, *, whole: bool
) -> CycleFacts:
    """The facts of the cycle, with whole rows of its objectives and key results, or (not
    `whole`) only what a report computes with, numbers as floats."""
    actor.require(Scope.READ)
    org = actor.organization_id
    cycle = await get_owned_row(db, Cycle, org, cycle_id, field="cycleId")
    teams = {team.id: team for team in await repository.teams(db, org)}
    if team_id is not None and team_id not in teams:
        await get_owned(db, Team, org, team_id, field="teamId")  # raises NOT_FOUND
    scope = subtree(teams, team_id) if team_id is not None else None
    objective_columns = None if whole else repository.REPORTED_OBJECTIVE
    key_result_columns = None if whole else repository.MEASURED_KEY_RESULT
    return CycleFacts(
        cycle=cycle,
        teams=teams,
        objectives=await repository.objectives_of_cycle(
            db, org, cycle.id, scope, only=objective_columns
        ),
        key_results=await repository.key_results_of_cycle(
            db, org, cycle.id, scope, only=key_result_columns
        ),
    )


def subtree(teams: dict[UUID, Record], root: UUID) -> list[UUID]:
    """`root` and every team below it."""
    children: dict[UUID | None, list[UUID]] = {}
    for team in teams.values():
        children.setdefault(team.parent_id, []).append(team.id)
    found, frontier = [root], [root]
    while frontier:
        frontier = [child for parent in frontier for child in children.get(parent, [])]
        found += frontier
    return found


def lines_of(facts: CycleFacts, now: datetime) -> list[KeyResultLine]:
    """The figures of each key result that counts, from its domain's service."""
    live = facts.live_key_results()
    found = key_results.figures_of_each(live, facts.dates, now)
    return [
        KeyResultLine(kr, figures, kr.last_checked_at)
        for kr, figures in zip(live, found, strict=True)
    ]


async def cycle_report(
    db: AsyncSession, actor: Principal, cycle_id: UUID, team_id: UUID | None, now: datetime
) -> CycleReport:
    facts = await load_cycle_facts(db, actor, cycle_id, team_id, whole=False)
    objectives = facts.live_objectives()
    lines = lines_of(facts, now)
    return report.build(
        cycle=facts.cycle,
        teams=facts.teams,
        objectives=objectives,
        lines=lines,
        contributions={o.id: o.contributes_to_count for o in objectives},
        now=now,
    )


async def okr_checks(
    db: AsyncSession, actor: Principal, cycle_id: UUID, team_id: UUID | None, now: datetime
) -> list[checks.Check]:
    """Every quality warning for the cycle's OKRs (of one team's subtree when given)."""
    facts = await load_cycle_facts(db, actor, cycle_id, team_id, whole=True)
    objective_counts = Counter(o.team_id for o in facts.live_objectives())
    history = await repository.closed_cycle_results(
        db, actor.organization_id, list(objective_counts), SANDBAGGING_LOOKBACK
    )
    found: list[checks.Check] = []
    for team_id_, count in objective_counts.items():
        team = facts.teams[team_id_]
        found += checks.check_team(
            checks.TeamFacts(team.id, team.name, count, history.get(team.id, []))
        )
    key_result_counts = Counter(kr.objective_id for kr in facts.key_results)
    for objective in facts.objectives:
        found += objectives_service.checks_of(
            objective,
            team_has_parent=facts.teams[objective.team_id].parent_id is not None,
            key_result_count=key_result_counts[objective.id],
            contributes_to_count=objective.contributes_to_count,
        )
    for kr in facts.key_results:
        found += key_results.checks_of(kr, facts.cycle, kr.last_checked_at, now)
    return found
