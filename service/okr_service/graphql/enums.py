"""The domain's enums as the schema shows them, each described and each value too (the
domain keeps its enums free of GraphQL; this is where the API explains them)."""

from enum import Enum

import strawberry

from okr_service.integrations.models import DeliveryOutcome, Provider
from okr_service.kit.errors import ErrorCode
from okr_service.kit.principal import Role, Scope
from okr_service.okr.checks import CheckCode, Severity
from okr_service.okr.enums import (
    AlignmentKind,
    CycleState,
    Direction,
    Health,
    HealthReason,
    Indicator,
    InitiativeStatus,
    Metric,
    ObjectiveKind,
    ObjectiveState,
    ProgressMode,
)
from okr_service.webhooks.models import DeliveryStatus

Described = tuple[str, dict[str, str]]

DESCRIPTIONS: dict[type[Enum], Described] = {
    CycleState: (
        "Where a cycle is in its life: planned, running, under review, or closed for good.",
        {
            "PLANNING": "OKRs are being drafted; the cycle has not started.",
            "ACTIVE": "The cycle is running: teams check in on their key results.",
            "REVIEW": "The period is over: teams score their key results and hold the "
            "retrospective.",
            "CLOSED": "Scores and healths are frozen; nothing in the cycle changes any more.",
        },
    ),
    ObjectiveKind: (
        "How fully an objective is expected to be met.",
        {
            "COMMITTED": "Expected to be fully met: anything less needs an explanation.",
            "ASPIRATIONAL": "A stretch goal: about 70% of it is a success.",
        },
    ),
    ObjectiveState: (
        "The lifecycle of an objective.",
        {
            "DRAFT": "Being written; not yet pursued.",
            "ACTIVE": "Pursued in its cycle.",
            "CLOSED": "Finished and scored (closing a cycle closes its active objectives).",
            "CANCELLED": "Dropped before the end of its cycle; it counts in no figure.",
        },
    ),
    Health: (
        "How an OKR is doing against where it should be by now.",
        {
            "ON_TRACK": "On course to meet its target.",
            "AT_RISK": "Behind; it can still be met with attention.",
            "OFF_TRACK": "Far behind; it will not be met without a change of plan.",
        },
    ),
    HealthReason: (
        "Why a health is what it is.",
        {
            "SET_BY_HAND": "A person named it, in a check-in or an update.",
            "ON_PACE": "Progress is at most 0.10 behind the expected linear path.",
            "BEHIND": "Progress is 0.10 to 0.25 behind the expected linear path.",
            "FAR_BEHIND": "Progress is more than 0.25 behind the expected linear path.",
            "EARLY_IN_CYCLE": "Far behind, but less than 30% of the cycle has passed: not "
            "yet alarming.",
            "NOTHING_TO_MEASURE": "An objective with no key result or contribution counted yet.",
            "CYCLE_CLOSED": "Frozen as it stood when the cycle closed.",
        },
    ),
    Metric: (
        "What a key result's values measure.",
        {
            "NUMBER": "A count or amount in the key result's unit.",
            "PERCENTAGE": "A share, in percent (0 to 100).",
            "CURRENCY": "An amount of money, in the currency named by the unit.",
            "MILESTONE": "Reached or not: 1 when met, 0 before (progress is 0 or 1).",
        },
    ),
    Direction: (
        "Which way a key result's value must go to count as progress.",
        {
            "INCREASE": "Raise the value from the start value to the target.",
            "DECREASE": "Lower the value from the start value to the target (lower is "
            "better; progress still goes from 0 to 1).",
            "AT_LEAST": "Keep the value at or above the target (a threshold such as "
            "99.99% availability).",
            "AT_MOST": "Keep the value at or below the target (a threshold such as under "
            "5% churn).",
        },
    ),
    Indicator: (
        "Whether a key result predicts the outcome or confirms it.",
        {
            "LEADING": "Moves early and predicts the outcome (weekly active usage).",
            "LAGGING": "Confirms the outcome after the fact (quarterly revenue).",
        },
    ),
    InitiativeStatus: (
        "Where a piece of work stands.",
        {
            "PROPOSED": "An idea, not yet chosen.",
            "PLANNED": "Chosen for the cycle: an open bet on its key results.",
            "IN_PROGRESS": "Being worked on: an open bet on its key results.",
            "DONE": "Shipped: its effect is already in the key results' current values.",
            "CANCELLED": "Stopped; no longer a bet.",
            "PARKED": "A good idea left out of this cycle (the parking lot).",
        },
    ),
    AlignmentKind: (
        "How one OKR relates to another.",
        {
            "CONTRIBUTES_TO": "Vertical: supports a parent objective or one of its key "
            "results, possibly across cycles. Such links never form a loop.",
            "RELATES_TO": "Horizontal: teams pursuing the same outcome.",
            "DEPENDS_ON": "A cross-team dependency: this objective needs the other's work first.",
        },
    ),
    ProgressMode: (
        "What an objective's progress is computed from.",
        {
            "KEY_RESULTS": "The weighted mean of its own key results.",
            "ALIGNED": "The objectives contributing to it (a roll-up).",
            "BOTH": "Its own key results and the objectives contributing to it.",
        },
    ),
    Scope: (
        "What an API key may do; each scope grants the ones before it.",
        {
            "READ": "Read everything in the organization.",
            "WRITE": "Also write OKRs: objectives, key results, check-ins, initiatives, alignment.",
            "ADMIN": "Also change the structure (teams, cycles) and manage API keys and webhooks.",
        },
    ),
    Role: (
        "What a caller may do in its organization; each role grants the ones before it.",
        {
            "VIEWER": "Reads everything.",
            "EDITOR": "Writes the OKRs of its teams and of the teams below them (a WRITE "
            "API key: of every team).",
            "ADMIN": "Does everything: structure (teams, cycles), webhooks, API keys.",
        },
    ),
    Severity: (
        "How much a good-practice warning matters.",
        {
            "INFO": "Worth a conversation; it can be deliberate.",
            "WARNING": "The OKR likely misleads or cannot be tracked.",
        },
    ),
    CheckCode: (
        "Which good-practice rule an OKR breaks.",
        {
            "TOO_MANY_OBJECTIVES": "A team has more than 5 objectives in a cycle.",
            "KR_COUNT": "An objective has fewer than 2 or more than 5 key results.",
            "OBJECTIVE_HAS_METRIC": "An objective's title holds a number or metric; "
            "numbers belong in key results.",
            "OUTPUT_NOT_OUTCOME": "A key result describes work to deliver (launch, ship, "
            "release) rather than an outcome to achieve.",
            "MISSING_BASELINE": "A key result has no start value measured.",
            "STALE_CHECK_IN": "A key result of an active cycle has had no check-in for "
            "more than a week.",
            "ORPHAN": "An objective of a team with a parent team contributes to nothing.",
            "SANDBAGGING": "A team achieved every key result in its last closed cycles: "
            "its targets may be too safe.",
        },
    ),
    ErrorCode: (
        "Why a mutation refused its input (nothing was written).",
        {
            "NOT_FOUND": "No such object in the caller's organization.",
            "INVALID_ID": "The ID cannot be read, or names another type of object.",
            "INVALID_VALUE": "The value is not allowed here.",
            "REQUIRED": "The field must be given and cannot be null.",
            "TOO_LONG": "The text is longer than allowed.",
            "OUT_OF_RANGE": "The number is outside the allowed range.",
            "TARGET_NOT_BEYOND_START": "The target does not lie in the key result's "
            "direction from its start value.",
            "INVALID_DATE_RANGE": "The dates are in the wrong order, or a cycle would not "
            "hold the cycles nested in it.",
            "SELF_REFERENCE": "An object cannot point at itself.",
            "ALIGNMENT_CYCLE": "The link would close a loop of contributions or of parents.",
            "DUPLICATE": "The same link exists already.",
            "INVALID_TARGET": "The link's target is not allowed for its kind.",
            "INVALID_STATE": "The object's state does not allow the change.",
            "ALREADY_CLOSED": "The cycle is closed: its OKRs no longer change.",
            "FORBIDDEN": "The caller's role or scope does not allow the change.",
            "VERSION_CONFLICT": "The object changed since the `expectedVersion` given: "
            "read it again.",
            "LIMIT_REACHED": "The change would grow a list past its limit (the field's "
            "description names it): remove an item first.",
        },
    ),
    DeliveryStatus: (
        "Where a webhook delivery stands.",
        {
            "PENDING": "Waiting for its first attempt.",
            "DELIVERING": "A worker is sending it now.",
            "DELIVERED": "The endpoint answered with a 2xx status.",
            "FAILED": "The last attempt failed; another is due at `nextAttemptAt`.",
            "DEAD": "No attempt left, or the endpoint was disabled; it can be redelivered.",
        },
    ),
    Provider: (
        "A roadmap tool whose webhooks keep initiatives in step.",
        {
            "LINEAR": "Linear: issues and projects.",
            "JIRA": "Jira Cloud: issues, epics included (admin webhooks with a secret).",
            "GITHUB": "GitHub: issues and milestones.",
        },
    ),
    DeliveryOutcome: (
        "What came of a request an integration received.",
        {
            "RECEIVED": "Verified and being applied (never left so: applying commits with it).",
            "APPLIED": "Moved at least one initiative.",
            "IGNORED": "Verified, nothing to change; `reason` says why.",
            "REJECTED": "Refused (signature, size, body); `reason` says why. Changed nothing.",
        },
    ),
}


# Where the schema's name differs from the domain's.
NAMES: dict[type[Enum], str] = {
    ErrorCode: "UserErrorCode",
    Severity: "CheckSeverity",
    DeliveryStatus: "WebhookDeliveryStatus",
    Provider: "IntegrationProvider",
    DeliveryOutcome: "IntegrationDeliveryOutcome",
}


def expose(enum: type[Enum]) -> None:
    """Register `enum` with the schema, described as DESCRIPTIONS says (all its values)."""
    description, values = DESCRIPTIONS[enum]
    missing = {member.name for member in enum} ^ set(values)
    assert not missing, f"{enum.__name__}: describe exactly its values ({sorted(missing)})"
    strawberry.enum(enum, name=NAMES.get(enum), description=description)
    for value in enum.__strawberry_definition__.values:  # type: ignore[attr-defined]
        value.description = values[value.name]


# Registered once, on import, before any type using them is built (okr_service/graphql/nodes.py,
# which every type module imports, imports this module).
for described in DESCRIPTIONS:
    expose(described)
