from typing import Any

import strawberry

from service.graphql.context import Info
from service.graphql.cycles.types import Cycle
from service.graphql.key_results.types import KeyResult
from service.graphql.teams.types import Team
from service.okr.report import CycleReport as CycleReportData
from service.okr.report import HealthCounts as HealthCountsData
from service.okr.report import Summary


@strawberry.type
class HealthCounts:
    on_track: int
    at_risk: int
    off_track: int

    @classmethod
    def of(cls, counts: HealthCountsData) -> "HealthCounts":
        return cls(on_track=counts.on_track, at_risk=counts.at_risk, off_track=counts.off_track)


@strawberry.type(description="Figures over a set of key results.")
class KeyResultFigures:
    key_result_count: int
    achieved_count: int
    hit_rate: float | None = strawberry.field(description="Achieved / all key results.")
    average_score: float | None
    average_progress: float | None
    health_counts: HealthCounts

    @staticmethod
    def fields_of(summary: Summary) -> dict[str, Any]:
        return {
            "key_result_count": summary.key_result_count,
            "achieved_count": summary.achieved_count,
            "hit_rate": summary.hit_rate,
            "average_score": summary.average_score,
            "average_progress": summary.average_progress,
            "health_counts": HealthCounts.of(summary.health),
        }


@strawberry.type(description="One team's figures in a cycle; key results count for their owner.")
class TeamReport(KeyResultFigures):
    team: Team
    objective_count: int


@strawberry.type(description="Retrospective notes stored when the cycle closed.")
class Retrospective:
    accelerators: str | None
    blockers: str | None
    lessons: str | None


@strawberry.type(description="Where a cycle stands, or how it ended: the quarterly review.")
class CycleReport(KeyResultFigures):
    cycle: Cycle
    objective_count: int
    check_in_freshness: float | None = strawberry.field(
        description="Share of key results checked in within the last 7 days."
    )
    alignment_score: float | None = strawberry.field(
        description="Share of objectives of teams with a parent that contribute to something."
    )
    committed_share: float | None = strawberry.field(
        description="Share of committed objectives (the rest are aspirational; aim for ~60%)."
    )
    teams: list[TeamReport]
    at_risk: list[KeyResult] = strawberry.field(
        description="Key results at risk or off track, off track first, least progress first."
    )
    retrospective: Retrospective | None

    @strawberry.field
    def on_track_count(self) -> int:
        return self.health_counts.on_track

    @strawberry.field
    def at_risk_count(self) -> int:
        return self.health_counts.at_risk

    @strawberry.field
    def off_track_count(self) -> int:
        return self.health_counts.off_track

    @classmethod
    def of(cls, report: CycleReportData, info: Info) -> "CycleReport":
        notes = report.cycle.retrospective
        return cls(
            cycle=Cycle.from_row(report.cycle),
            objective_count=report.objective_count,
            check_in_freshness=report.check_in_freshness,
            alignment_score=report.alignment_score,
            committed_share=report.committed_share,
            teams=[
                TeamReport(
                    team=Team.from_row(row.team),
                    objective_count=row.objective_count,
                    **KeyResultFigures.fields_of(row.summary),
                )
                for row in report.teams
            ],
            at_risk=[
                KeyResult.with_figures(info, line.key_result, line.figures)
                for line in report.at_risk
            ],
            # Closing without notes (or before closing) leaves no retrospective.
            retrospective=Retrospective(**notes) if notes and any(notes.values()) else None,
            **KeyResultFigures.fields_of(report.summary),
        )
