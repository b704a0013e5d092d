"""OKR quality checks as the API shows them."""

import strawberry
from strawberry import relay

from okr_service.graphql.context import Info
from okr_service.graphql.nodes import list_page
from okr_service.kit.ids import global_id
from okr_service.okr.checks import Check, CheckCode, Severity

SUBJECT_TYPES = {
    CheckCode.TOO_MANY_OBJECTIVES: "Team",
    CheckCode.SANDBAGGING: "Team",
    CheckCode.KR_COUNT: "Objective",
    CheckCode.OBJECTIVE_HAS_METRIC: "Objective",
    CheckCode.ORPHAN: "Objective",
    CheckCode.OUTPUT_NOT_OUTCOME: "KeyResult",
    CheckCode.MISSING_BASELINE: "KeyResult",
    CheckCode.STALE_CHECK_IN: "KeyResult",
}


@strawberry.type(description="A good-practice warning about an OKR; it never blocks a write.")
class OkrCheck:
    code: CheckCode = strawberry.field(description="Which rule: stable, for programs.")
    severity: Severity = strawberry.field(description="How much it matters.")
    message: str = strawberry.field(description="What is wrong and what to do, for people.")
    subject_id: strawberry.ID = strawberry.field(description="The team, objective or key result.")

    @classmethod
    def of(cls, check: Check) -> "OkrCheck":
        code = CheckCode(check.code)
        return cls(
            code=code,
            severity=check.severity,
            message=check.message,
            subject_id=strawberry.ID(global_id(SUBJECT_TYPES[code], check.subject_id)),
        )


@strawberry.type(description="A warning of a page of warnings, and where the page goes on.")
class OkrCheckEdge:
    node: OkrCheck = strawberry.field(description="The warning.")
    cursor: str = strawberry.field(description="Pass it as `after` to read on from here.")


@strawberry.type(description="One page of warnings, and how many there are in all.")
class OkrCheckConnection:
    edges: list[OkrCheckEdge] = strawberry.field(description="The warnings of this page.")
    page_info: relay.PageInfo = strawberry.field(description="Where the page stands.")
    total_count: int = strawberry.field(
        description="How many warnings in all, every page together."
    )

    @classmethod
    def of(
        cls, info: Info, checks: list[Check], *, first: int | None, after: str | None
    ) -> "OkrCheckConnection":
        """A page of warnings the request computed whole (a cursor is a place in them)."""
        chosen, page_info = list_page(info, checks, first, after)
        return cls(
            edges=[
                OkrCheckEdge(node=OkrCheck.of(check), cursor=cursor) for cursor, check in chosen
            ],
            page_info=page_info,
            total_count=len(checks),
        )
