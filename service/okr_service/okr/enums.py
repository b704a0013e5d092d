"""The vocabulary of OKRs, shared by the database, the arithmetic and the API."""

from enum import StrEnum


class CycleState(StrEnum):
    PLANNING = "PLANNING"
    ACTIVE = "ACTIVE"
    REVIEW = "REVIEW"
    CLOSED = "CLOSED"


class ObjectiveKind(StrEnum):
    COMMITTED = "COMMITTED"
    ASPIRATIONAL = "ASPIRATIONAL"


class ObjectiveState(StrEnum):
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"


class Health(StrEnum):
    ON_TRACK = "ON_TRACK"
    AT_RISK = "AT_RISK"
    OFF_TRACK = "OFF_TRACK"


class HealthReason(StrEnum):
    """Why a health is what it is."""

    SET_BY_HAND = "SET_BY_HAND"  # a person named it (a check-in or an update)
    ON_PACE = "ON_PACE"  # progress at most 0.10 behind the expected linear path
    BEHIND = "BEHIND"  # 0.10 to 0.25 behind
    FAR_BEHIND = "FAR_BEHIND"  # more than 0.25 behind
    EARLY_IN_CYCLE = "EARLY_IN_CYCLE"  # far behind, but before 30% of the cycle
    NOTHING_TO_MEASURE = "NOTHING_TO_MEASURE"  # an objective with nothing counted yet
    CYCLE_CLOSED = "CYCLE_CLOSED"  # frozen as it stood when the cycle closed


class Metric(StrEnum):
    NUMBER = "NUMBER"
    PERCENTAGE = "PERCENTAGE"
    CURRENCY = "CURRENCY"
    MILESTONE = "MILESTONE"


class Direction(StrEnum):
    INCREASE = "INCREASE"
    DECREASE = "DECREASE"
    AT_LEAST = "AT_LEAST"
    AT_MOST = "AT_MOST"


class Indicator(StrEnum):
    LEADING = "LEADING"
    LAGGING = "LAGGING"


class InitiativeStatus(StrEnum):
    PROPOSED = "PROPOSED"
    PLANNED = "PLANNED"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"
    CANCELLED = "CANCELLED"
    PARKED = "PARKED"


class AlignmentKind(StrEnum):
    CONTRIBUTES_TO = "CONTRIBUTES_TO"
    RELATES_TO = "RELATES_TO"
    DEPENDS_ON = "DEPENDS_ON"


class ProgressMode(StrEnum):
    KEY_RESULTS = "KEY_RESULTS"
    ALIGNED = "ALIGNED"
    BOTH = "BOTH"
