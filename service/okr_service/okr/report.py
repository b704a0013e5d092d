"""The figures of a cycle review: counts, rates and averages over its key results' figures.

Pure, like the rest of `okr_service/okr`: the reports service gathers the rows and the key
results' figures (from their domain's service) and hands them here.
"""

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from okr_service.okr.arithmetic import share
from okr_service.okr.checks import STALE_AFTER
from okr_service.okr.enums import Health, ObjectiveKind
from okr_service.okr.figures import KeyResultFigures


@dataclass(frozen=True)
class HealthCounts:
    on_track: int = 0
    at_risk: int = 0
    off_track: int = 0

    @classmethod
    def of(cls, healths: Sequence[Health]) -> "HealthCounts":
        counts = Counter(healths)
        return cls(counts[Health.ON_TRACK], counts[Health.AT_RISK], counts[Health.OFF_TRACK])


class KeyResultLine(NamedTuple):
    """A key result (what its figures read of it, its `id` and its `team_id`), its figures
    at the report's moment (the GraphQL layer hands them on to the key result's own fields:
    they are not computed twice) and when it was last checked in (None before its first
    check-in). A tuple: a report makes one per key result."""

    key_result: Any
    figures: KeyResultFigures
    last_check_in: datetime | None


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
    def of(cls, found: Sequence[KeyResultFigures]) -> "Summary":
        """The summary of key results with these figures."""
        achieved = sum([figures.achieved for figures in found])
        return cls(
            key_result_count=len(found),
            achieved_count=achieved,
            hit_rate=share(achieved, len(found)),
            average_score=mean([figures.score for figures in found]),
            average_progress=mean([figures.progress for figures in found]),
            health=HealthCounts.of([figures.health for figures in found]),
        )


@dataclass(frozen=True)
class TeamSummary:
    team: Any
    objective_count: int
    summary: Summary


@dataclass(frozen=True)
class CycleReport:
    cycle: Any
    objective_count: int
    summary: Summary
    check_in_freshness: float | None
    alignment_score: float | None
    committed_share: float | None
    teams: list[TeamSummary] = field(default_factory=list)
    at_risk: list[KeyResultLine] = field(default_factory=list)


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def build(
    *,
    cycle: Any,
    teams: Mapping[UUID, Any],
    objectives: Sequence[Any],
    lines: Sequence[KeyResultLine],
    contributions: Mapping[UUID, int],
    now: datetime,
) -> CycleReport:
    """The review of a cycle from its objectives that count (not cancelled), the lines of
    their key results and how many things each objective contributes to."""
    # One pass over the lines: they are many (objectives and teams are few).
    fresh = 0
    fresh_since = now - STALE_AFTER
    at_risk: list[KeyResultLine] = []
    # Key results count for the team that owns them, which for a shared OKR is not the
    # objective's team.
    figures_by_team: dict[UUID, list[KeyResultFigures]] = defaultdict(list)
    for line in lines:
        figures = line.figures
        figures_by_team[line.key_result.team_id].append(figures)
        if line.last_check_in is not None and line.last_check_in >= fresh_since:
            fresh += 1
        if figures.health is not Health.ON_TRACK:
            at_risk.append(line)
    # Alignment is asked of teams that have a parent: the root's objectives lead.
    non_root = [o for o in objectives if teams[o.team_id].parent_id is not None]
    aligned = sum(1 for o in non_root if contributions.get(o.id, 0) > 0)
    committed = sum(1 for o in objectives if o.kind is ObjectiveKind.COMMITTED)
    return CycleReport(
        cycle=cycle,
        objective_count=len(objectives),
        summary=Summary.of([line.figures for line in lines]),
        check_in_freshness=share(fresh, len(lines)),
        alignment_score=share(aligned, len(non_root)),
        committed_share=share(committed, len(objectives)),
        teams=team_summaries(teams, Counter(o.team_id for o in objectives), figures_by_team),
        at_risk=sorted(at_risk, key=_severity_then_progress),
    )


_SEVERITY = {Health.OFF_TRACK: 0, Health.AT_RISK: 1}


def _severity_then_progress(line: KeyResultLine) -> tuple[int, float]:
    """Off track first, then least progress first."""
    return _SEVERITY[line.figures.health], line.figures.progress


def team_summaries(
    teams: Mapping[UUID, Any],
    objective_counts: Mapping[UUID, int],
    figures_by_team: Mapping[UUID, Sequence[KeyResultFigures]],
) -> list[TeamSummary]:
    """One row per team owning objectives or key results, by name."""
    team_ids = sorted(
        set(objective_counts) | set(figures_by_team), key=lambda team_id: teams[team_id].name
    )
    return [
        TeamSummary(
            team=teams[team_id],
            objective_count=objective_counts.get(team_id, 0),
            summary=Summary.of(figures_by_team.get(team_id, ())),
        )
        for team_id in team_ids
    ]
