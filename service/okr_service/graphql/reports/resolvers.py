from typing import Annotated

import strawberry

from okr_service.graphql.checks import OkrCheckConnection
from okr_service.graphql.context import Info
from okr_service.graphql.nodes import After, First
from okr_service.graphql.reports.types import CycleReport
from okr_service.kit.ids import optional_id, parse_global_id
from okr_service.reports import service

CycleId = Annotated[
    strawberry.ID, strawberry.argument(description="The global ID of the cycle reviewed.")
]
SubtreeOf = Annotated[
    strawberry.ID | None,
    strawberry.argument(
        description="Only this team and the teams below it; the whole organization if omitted."
    ),
]


@strawberry.type
class ReportQuery:
    @strawberry.field(
        description="The review of a cycle, for the whole organization or one team's subtree."
    )
    async def cycle_report(
        self, info: Info, cycle_id: CycleId, team_id: SubtreeOf = None
    ) -> CycleReport:
        cycle = parse_global_id(cycle_id, "Cycle", field="cycleId")
        team = optional_id(team_id, "Team", field="teamId")
        report = await info.context.run(
            lambda db: service.cycle_report(
                db, info.context.principal, cycle, team, info.context.now
            )
        )
        return CycleReport.of(report, info)

    @strawberry.field(
        description="Good-practice warnings on a cycle's OKRs (one team's subtree when "
        "given), team warnings first, a page at a time."
    )
    async def okr_checks(
        self,
        info: Info,
        cycle_id: CycleId,
        team_id: SubtreeOf = None,
        first: First = None,
        after: After = None,
    ) -> OkrCheckConnection:
        cycle = parse_global_id(cycle_id, "Cycle", field="cycleId")
        team = optional_id(team_id, "Team", field="teamId")
        context = info.context
        found = await context.run(
            lambda db: service.okr_checks(db, context.principal, cycle, team, context.now)
        )
        return OkrCheckConnection.of(info, found, first=first, after=after)
