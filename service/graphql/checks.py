"""OKR quality checks as the API shows them."""

import strawberry

from service.kit.ids import global_id
from service.okr.checks import Check, CheckCode, Severity

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
