"""OKR quality checks (the "coach"): good-practice warnings, never errors.

Pure functions over plain facts the caller gathers (no database, no clock:
`now` is passed in). Each rule returns a Check or None; `check_team`,
`check_objective` and `check_key_result` run every rule for one subject.
The text rules are heuristics: they flag a likely problem for a human to
judge, so they prefer a clear message over blocking anything.
"""

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from uuid import UUID

from okr_service.okr.enums import Metric

MAX_OBJECTIVES = 5  # per team per cycle: 3-5 is the usual advice
MIN_KEY_RESULTS = 2  # one number alone is easy to game
MAX_KEY_RESULTS = 5  # beyond that focus is lost
STALE_AFTER = timedelta(days=7)  # check-ins are weekly
# One perfect cycle can be luck; two in a row is a pattern.
SANDBAGGING_MIN_CYCLES = 2


class Severity(StrEnum):
    INFO = "INFO"  # worth a conversation; can be deliberate
    WARNING = "WARNING"  # the OKR likely misleads or cannot be tracked


class CheckCode(StrEnum):
    TOO_MANY_OBJECTIVES = "TOO_MANY_OBJECTIVES"
    KR_COUNT = "KR_COUNT"
    OBJECTIVE_HAS_METRIC = "OBJECTIVE_HAS_METRIC"
    OUTPUT_NOT_OUTCOME = "OUTPUT_NOT_OUTCOME"
    MISSING_BASELINE = "MISSING_BASELINE"
    STALE_CHECK_IN = "STALE_CHECK_IN"
    ORPHAN = "ORPHAN"
    SANDBAGGING = "SANDBAGGING"


@dataclass(frozen=True, slots=True)
class Check:
    code: str
    severity: Severity
    message: str
    subject_id: UUID


@dataclass(frozen=True, slots=True)
class TeamFacts:
    id: UUID
    name: str
    objective_count: int  # the team's objectives in the cycle under review
    # (achieved, total) KRs of each of the team's recent closed cycles
    closed_cycles: Sequence[tuple[int, int]] = ()


@dataclass(frozen=True, slots=True)
class ObjectiveFacts:
    id: UUID
    title: str
    team_id: UUID
    team_has_parent: bool
    key_result_count: int
    contributes_to_count: int


@dataclass(frozen=True, slots=True)
class KeyResultFacts:
    id: UUID
    title: str
    metric: Metric
    start_value: float | None
    last_check_in_at: datetime | None  # same tz-awareness as `now`
    cycle_active: bool
    cycle_starts_on: date  # a KR never checked in is stale from here


# Numbers spelled out. "one" is left out (too common: "one place"), and so is
# "double down", an idiom rather than a target.
_NUMBER_WORDS = (
    r"two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty"
    r"|sixty|seventy|eighty|ninety|hundred|thousand|million|billion|dozen|twice"
    r"|doubl(?:e|es|ed|ing)(?!\s+down)|tripl(?:e|es|ed|ing)|halv(?:e|es|ed|ing)"
)
_METRIC_WORDS = (
    r"percent|percentage|percentages|per\s+cent|pct|kpis?|metrics?|nps|arr|mrr|roi"
    r"|basis\s+points?|bps"
)
_METRIC_IN_TEXT = re.compile(rf"\d|%|\b(?:{_NUMBER_WORDS}|{_METRIC_WORDS})\b", re.IGNORECASE)

# Verbs of work that can be "done" rather than achieved to a degree, with
# their inflections spelled out (stemming "ship" or "build" is irregular).
_OUTPUT_VERBS = (
    r"launch(?:es|ed|ing)?|ship(?:s|ped|ping)?|releas(?:e|es|ed|ing)|implement(?:s|ed|ing)?"
    r"|buil(?:d|ds|t|ding)|rebuil(?:d|ds|t|ding)|deliver(?:s|ed|ing)?|creat(?:e|es|ed|ing)"
    r"|migrat(?:e|es|ed|ing)|complet(?:e|es|ed|ing)|deploy(?:s|ed|ing)?|roll(?:s|ed|ing)?\s+out"
    r"|introduc(?:e|es|ed|ing)|develop(?:s|ed|ing)?|finish(?:es|ed|ing)?|publish(?:es|ed|ing)?"
    r"|integrat(?:e|es|ed|ing)|redesign(?:s|ed|ing)?|rewrit(?:e|es|ing|ten)|rewrote"
)
# A title opening with a measured change ("Reduce time to complete setup")
# is an outcome even if an output verb appears later, often as a noun.
_OUTCOME_VERBS = (
    r"increas|rais|grow|grew|improv|reduc|decreas|cut|lower|keep|kept|maintain|hold|held"
    r"|stay|reach|achiev|boost|lift|doubl|halv|shorten|expand|retain|sustain|minimi[sz]"
    r"|maximi[sz]|drop|accelerat"
)
_OUTPUT_FIRST = re.compile(rf"\W*(?:{_OUTPUT_VERBS})\b", re.IGNORECASE)
_OUTCOME_FIRST = re.compile(rf"\W*(?:{_OUTCOME_VERBS})\w*\b", re.IGNORECASE)
_OUTPUT_ANYWHERE = re.compile(rf"\b(?:{_OUTPUT_VERBS})\b", re.IGNORECASE)


def has_metric(title: str) -> bool:
    """A digit, %, currency symbol, spelled-out number or metric word."""
    if _METRIC_IN_TEXT.search(title):
        return True
    return any(unicodedata.category(char) == "Sc" for char in title)


def is_output(title: str) -> bool:
    """Whether a KR title describes work to do rather than an outcome.

    It opens with an output verb, or has one anywhere ("Checkout redesign
    shipped") unless it opens with a measured change (increase, reduce...).
    """
    if _OUTPUT_FIRST.match(title):
        return True
    if _OUTCOME_FIRST.match(title):
        return False
    return _OUTPUT_ANYWHERE.search(title) is not None


def too_many_objectives(team: TeamFacts) -> Check | None:
    if team.objective_count <= MAX_OBJECTIVES:
        return None
    return Check(
        CheckCode.TOO_MANY_OBJECTIVES,
        Severity.WARNING,
        f"{team.name} has {team.objective_count} objectives this cycle; "
        f"focus on 3-{MAX_OBJECTIVES} so each gets real attention.",
        team.id,
    )


def sandbagging(team: TeamFacts) -> Check | None:
    """Every KR achieved in each of >= SANDBAGGING_MIN_CYCLES closed cycles.

    Cycles without KRs say nothing about target setting and are skipped.
    """
    scored = [(achieved, total) for achieved, total in team.closed_cycles if total > 0]
    if len(scored) < SANDBAGGING_MIN_CYCLES:
        return None
    if any(achieved < total for achieved, total in scored):
        return None
    return Check(
        CheckCode.SANDBAGGING,
        Severity.INFO,
        f"{team.name} achieved every key result in its last {len(scored)} closed cycles; "
        "targets may be too safe, try stretching them (a 60-70% hit rate is healthy).",
        team.id,
    )


def key_result_count(objective: ObjectiveFacts) -> Check | None:
    count = objective.key_result_count
    if MIN_KEY_RESULTS <= count <= MAX_KEY_RESULTS:
        return None
    if count == 0:
        advice = "has no key results; add 2-5 to show how you will know it is achieved."
    elif count < MIN_KEY_RESULTS:
        advice = f"has only {count} key result; 2-5 give a view of success that is hard to game."
    else:
        advice = f"has {count} key results; keep 2-{MAX_KEY_RESULTS} so the team stays focused."
    return Check(
        CheckCode.KR_COUNT, Severity.WARNING, f"'{objective.title}' {advice}", objective.id
    )


def objective_has_metric(objective: ObjectiveFacts) -> Check | None:
    if not has_metric(objective.title):
        return None
    return Check(
        CheckCode.OBJECTIVE_HAS_METRIC,
        Severity.WARNING,
        f"'{objective.title}' contains a number or metric; keep objectives qualitative "
        "and put the numbers in key results.",
        objective.id,
    )


def orphan(objective: ObjectiveFacts) -> Check | None:
    """Supports nothing although its team has a parent team to align with."""
    if objective.contributes_to_count > 0 or not objective.team_has_parent:
        return None
    return Check(
        CheckCode.ORPHAN,
        Severity.INFO,
        f"'{objective.title}' contributes to no parent objective; link it to what the "
        "parent team is pursuing, or agree why it stands alone.",
        objective.id,
    )


def output_not_outcome(key_result: KeyResultFacts) -> Check | None:
    if key_result.metric is Metric.MILESTONE:
        why = "is a milestone: it can be done, not achieved to a degree"
    elif is_output(key_result.title):
        why = "describes work to deliver"
    else:
        return None
    return Check(
        CheckCode.OUTPUT_NOT_OUTCOME,
        Severity.WARNING,
        f"'{key_result.title}' {why}; measure the outcome the work should change instead.",
        key_result.id,
    )


def missing_baseline(key_result: KeyResultFacts) -> Check | None:
    if key_result.start_value is not None:
        return None
    return Check(
        CheckCode.MISSING_BASELINE,
        Severity.WARNING,
        f"'{key_result.title}' has no baseline; measure the starting value so progress "
        "means something.",
        key_result.id,
    )


def stale_check_in(key_result: KeyResultFacts, *, now: datetime) -> Check | None:
    """No check-in for more than STALE_AFTER in an active cycle.

    A KR never checked in is counted from the start of the cycle's first day.
    """
    if not key_result.cycle_active:
        return None
    cycle_start = datetime.combine(key_result.cycle_starts_on, time.min, tzinfo=now.tzinfo)
    since = key_result.last_check_in_at or cycle_start
    if now - since <= STALE_AFTER:
        return None
    days = (now - since).days
    if key_result.last_check_in_at is None:
        what = f"has had no check-in since the cycle started {days} days ago"
    else:
        what = f"has had no check-in for {days} days"
    return Check(
        CheckCode.STALE_CHECK_IN,
        Severity.WARNING,
        f"'{key_result.title}' {what}; update it weekly.",
        key_result.id,
    )


def _found(*checks: Check | None) -> list[Check]:
    return [check for check in checks if check is not None]


def check_team(team: TeamFacts) -> list[Check]:
    return _found(too_many_objectives(team), sandbagging(team))


def check_objective(objective: ObjectiveFacts) -> list[Check]:
    return _found(key_result_count(objective), objective_has_metric(objective), orphan(objective))


def check_key_result(key_result: KeyResultFacts, *, now: datetime) -> list[Check]:
    return _found(
        output_not_outcome(key_result),
        missing_baseline(key_result),
        stale_check_in(key_result, now=now),
    )
