from typing import Any

import strawberry

from okr_service.graphql.context import Info
from okr_service.graphql.cycles.types import Cycle
from okr_service.graphql.key_results.types import KeyResult, remember_figures
from okr_service.graphql.nodes import After, Connection, First, list_page, page_connection
from okr_service.graphql.teams.types import Team
from okr_service.okr.report import CycleReport as CycleReportData
from okr_service.okr.report import HealthCounts as HealthCountsData
from okr_service.okr.report import KeyResultLine, Summary


@strawberry.type(description="How many key results are at each health.")
class HealthCounts:
    on_track: int = strawberry.field(description="Key results ON_TRACK.")
    at_risk: int = strawberry.field(description="Key results AT_RISK.")
    off_track: int = strawberry.field(description="Key results OFF_TRACK.")

    @classmethod
    def of(cls, counts: HealthCountsData) -> "HealthCounts":
        return cls(on_track=counts.on_track, at_risk=counts.at_risk, off_track=counts.off_track)


@strawberry.type(description="Figures over a set of key results.")
class KeyResultFigures:
    key_result_count: int = strawberry.field(description="How many key results count here.")
    achieved_count: int = strawberry.field(description="How many of them met their target.")
    hit_rate: float | None = strawberry.field(
        description="Achieved / all key results; 60-70% is healthy, far above says targets "
        "were safe. Null without key results."
    )
    average_score: float | None = strawberry.field(
        description="The mean score 0..1 (0.6-0.7 is a good result for stretch OKRs); null "
        "without key results."
    )
    average_progress: float | None = strawberry.field(
        description="The mean progress 0..1; null without key results."
    )
    health_counts: HealthCounts = strawberry.field(description="How many are at each health.")

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
    team: Team = strawberry.field(description="The team these figures are of.")
    objective_count: int = strawberry.field(description="The team's objectives in the cycle.")


@strawberry.type(description="Retrospective notes stored when the cycle closed.")
class Retrospective:
    accelerators: str | None = strawberry.field(description="What sped the teams up.")
    blockers: str | None = strawberry.field(description="What blocked them.")
    lessons: str | None = strawberry.field(description="What they learned.")


@strawberry.type(description="Where a cycle stands, or how it ended: the quarterly review.")
class CycleReport(KeyResultFigures):
    cycle: Cycle = strawberry.field(description="The cycle reviewed.")
    objective_count: int = strawberry.field(description="The objectives counted.")
    check_in_freshness: float | None = strawberry.field(
        description="Share of key results checked in within the last 7 days."
    )
    alignment_score: float | None = strawberry.field(
        description="Share of objectives of teams with a parent that contribute to something."
    )
    committed_share: float | None = strawberry.field(
        description="Share of committed objectives (the rest are aspirational; aim for ~60%)."
    )
    teams: list[TeamReport] = strawberry.field(
        description="The same figures per team with OKRs in the cycle (one per team: a "
        "bounded list)."
    )
    at_risk_lines: strawberry.Private[list[KeyResultLine]]
    retrospective: Retrospective | None = strawberry.field(
        description="The notes kept when the cycle closed; null before, or without notes."
    )

    @strawberry.field(
        description="Key results at risk or off track, off track first, least progress "
        "first, a page at a time (a cursor is a place in this order, computed afresh)."
    )
    async def at_risk(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[KeyResult]:
        # The report read only what its figures need: the page's key results are read whole,
        # their figures are the report's.
        chosen, page_info = list_page(info, self.at_risk_lines, first, after)
        for _, line in chosen:
            remember_figures(info.context, line.key_result.id, line.figures)
        ids = [line.key_result.id for _, line in chosen]
        nodes = {node.id: node for node in await KeyResult.load_many(info, ids)}
        # (One deleted since the report was read is left out.)
        shown = [(cursor, line) for cursor, line in chosen if line.key_result.id in nodes]
        total = len(self.at_risk_lines)
        return page_connection(shown, page_info, total, lambda line: nodes[line.key_result.id])

    @strawberry.field(description="Key results ON_TRACK (as `healthCounts.onTrack`).")
    def on_track_count(self) -> int:
        return self.health_counts.on_track

    @strawberry.field(description="Key results AT_RISK (as `healthCounts.atRisk`).")
    def at_risk_count(self) -> int:
        return self.health_counts.at_risk

    @strawberry.field(description="Key results OFF_TRACK (as `healthCounts.offTrack`).")
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
            at_risk_lines=report.at_risk,
            # Closing without notes (or before closing) leaves no retrospective.
            retrospective=Retrospective(**notes) if notes and any(notes.values()) else None,
            **KeyResultFigures.fields_of(report.summary),
        )
