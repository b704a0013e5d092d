"""Cycle review and OKR quality checks, computed from one load of a cycle's facts."""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.service import Principal, Scope
from service.cycles import service as cycles
from service.cycles.models import Cycle
from service.key_results import service as key_results
from service.key_results.models import KeyResult
from service.kit.repository import get_owned
from service.objectives import service as objectives_service
from service.objectives.models import Objective
from service.okr import checks
from service.okr.arithmetic import share
from service.okr.enums import Health, ObjectiveKind, ObjectiveState
from service.okr.figures import CycleDates
from service.reports import repository
from service.teams.models import Team

SANDBAGGING_LOOKBACK = 3  # closed cycles looked at per team


@dataclass
class CycleFacts:
    """Everything a report or a check needs about one cycle (optionally one team's subtree)."""

    cycle: Cycle
    teams: dict[UUID, Team]
    objectives: Sequence[Objective]
    key_results: Sequence[KeyResult]
    last_check_ins: dict[UUID, datetime]
    contributions: dict[UUID, int]

    @property
    def dates(self) -> CycleDates:
        return CycleDates(self.cycle.starts_on, self.cycle.ends_on)

    def live_objective_ids(self) -> set[UUID]:
        return {o.id for o in self.objectives if o.state is not ObjectiveState.CANCELLED}

    def live_key_results(self) -> list[KeyResult]:
        """Key results that count: those of objectives not cancelled."""
        live = self.live_objective_ids()
        return [kr for kr in self.key_results if kr.objective_id in live]


async def load_cycle_facts(
    db: AsyncSession, actor: Principal, cycle_id: UUID, team_id: UUID | None
) -> CycleFacts:
    actor.require(Scope.READ)
    org = actor.organization_id
    cycle = await get_owned(db, Cycle, org, cycle_id, field="cycleId")
    teams = {team.id: team for team in await repository.teams(db, org)}
    if team_id is not None and team_id not in teams:
        await get_owned(db, Team, org, team_id, field="teamId")  # raises NOT_FOUND
    scope = subtree(teams, team_id) if team_id is not None else None
    objectives = await cycles.objectives_of(db, org, cycle.id, team_ids=scope)
    objective_ids = [objective.id for objective in objectives]
    key_results = await objectives_service.key_results_of(db, org, objective_ids)
    return CycleFacts(
        cycle=cycle,
        teams=teams,
        objectives=objectives,
        key_results=key_results,
        last_check_ins=await repository.last_check_in_times(db, org, [kr.id for kr in key_results]),
        contributions=await repository.contribution_counts(db, org, objective_ids),
    )


def subtree(teams: dict[UUID, Team], root: UUID) -> list[UUID]:
    """`root` and every team below it."""
    children: dict[UUID | None, list[UUID]] = {}
    for team in teams.values():
        children.setdefault(team.parent_id, []).append(team.id)
    found, frontier = [root], [root]
    while frontier:
        frontier = [child for parent in frontier for child in children.get(parent, [])]
        found += frontier
    return found


@dataclass(frozen=True)
class HealthCounts:
    on_track: int = 0
    at_risk: int = 0
    off_track: int = 0

    @classmethod
    def of(cls, healths: Sequence[Health]) -> "HealthCounts":
        counts = Counter(healths)
        return cls(counts[Health.ON_TRACK], counts[Health.AT_RISK], counts[Health.OFF_TRACK])


@dataclass(frozen=True)
class KeyResultLine:
    key_result: KeyResult
    progress: float
    score: float
    achieved: bool
    health: Health


@dataclass(frozen=True)
class Summary:
    """Figures over a set of key results (the cycle's, or one team's)."""

    key_result_count: int
    achieved_count: int
    hit_rate: float | None
    average_score: float | None
    average_progress: float | None
    health: HealthCounts

    @classmethod
    def of(cls, lines: Sequence[KeyResultLine]) -> "Summary":
        achieved = sum(line.achieved for line in lines)
        return cls(
            key_result_count=len(lines),
            achieved_count=achieved,
            hit_rate=share(achieved, len(lines)),
            average_score=mean([line.score for line in lines]),
            average_progress=mean([line.progress for line in lines]),
            health=HealthCounts.of([line.health for line in lines]),
        )


@dataclass(frozen=True)
class TeamSummary:
    team: Team
    objective_count: int
    summary: Summary


@dataclass(frozen=True)
class CycleReport:
    cycle: Cycle
    objective_count: int
    summary: Summary
    check_in_freshness: float | None
    alignment_score: float | None
    committed_share: float | None
    teams: list[TeamSummary] = field(default_factory=list)
    at_risk: list[KeyResultLine] = field(default_factory=list)


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def lines_of(facts: CycleFacts, now: datetime) -> list[KeyResultLine]:
    lines = []
    for kr in facts.live_key_results():
        found = key_results.figures_of(kr, facts.dates, now)
        lines.append(
            KeyResultLine(
                key_result=kr,
                progress=found.progress,
                score=found.score,
                achieved=found.achieved,
                health=found.health,
            )
        )
    return lines


def build_report(facts: CycleFacts, now: datetime) -> CycleReport:
    lines = lines_of(facts, now)
    live = [o for o in facts.objectives if o.state is not ObjectiveState.CANCELLED]
    last_check_ins = [facts.last_check_ins.get(line.key_result.id) for line in lines]
    fresh = sum(1 for last in last_check_ins if last and now - last <= checks.STALE_AFTER)
    # Alignment is asked of teams that have a parent: the root's objectives lead.
    non_root = [o for o in live if facts.teams[o.team_id].parent_id is not None]
    aligned = sum(1 for o in non_root if facts.contributions.get(o.id, 0) > 0)
    committed = sum(1 for o in live if o.kind is ObjectiveKind.COMMITTED)
    severity = {Health.OFF_TRACK: 0, Health.AT_RISK: 1}
    return CycleReport(
        cycle=facts.cycle,
        objective_count=len(live),
        summary=Summary.of(lines),
        check_in_freshness=share(fresh, len(lines)),
        alignment_score=share(aligned, len(non_root)),
        committed_share=share(committed, len(live)),
        teams=team_summaries(facts, live, lines),
        at_risk=sorted(
            (line for line in lines if line.health is not Health.ON_TRACK),
            key=lambda line: (severity[line.health], line.progress),
        ),
    )


def team_summaries(
    facts: CycleFacts, objectives: Sequence[Objective], lines: Sequence[KeyResultLine]
) -> list[TeamSummary]:
    """One row per team owning objectives or key results; key results count for the team
    that owns them, which for a shared OKR is not the objective's team."""
    objective_counts = Counter(o.team_id for o in objectives)
    team_ids = sorted(
        set(objective_counts) | {line.key_result.team_id for line in lines},
        key=lambda team_id: facts.teams[team_id].name,
    )
    return [
        TeamSummary(
            team=facts.teams[team_id],
            objective_count=objective_counts[team_id],
            summary=Summary.of([line for line in lines if line.key_result.team_id == team_id]),
        )
        for team_id in team_ids
    ]


async def cycle_report(
    db: AsyncSession, actor: Principal, cycle_id: UUID, team_id: UUID | None, now: datetime
) -> CycleReport:
    return build_report(await load_cycle_facts(db, actor, cycle_id, team_id), now)


async def okr_checks(
    db: AsyncSession, actor: Principal, cycle_id: UUID, team_id: UUID | None, now: datetime
) -> list[checks.Check]:
    """Every quality warning for the cycle's OKRs (of one team's subtree when given)."""
    facts = await load_cycle_facts(db, actor, cycle_id, team_id)
    objective_counts = Counter(
        o.team_id for o in facts.objectives if o.state is not ObjectiveState.CANCELLED
    )
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
            contributes_to_count=facts.contributions.get(objective.id, 0),
        )
    for kr in facts.key_results:
        found += key_results.checks_of(kr, facts.cycle, facts.last_check_ins.get(kr.id), now)
    return found
