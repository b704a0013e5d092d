"""OKR quality checks: every code firing and not firing."""

import dataclasses
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from okr_service.okr.checks import (
    Check,
    CheckCode,
    KeyResultFacts,
    ObjectiveFacts,
    Severity,
    TeamFacts,
    check_key_result,
    check_objective,
    check_team,
    has_metric,
    is_output,
    key_result_count,
    missing_baseline,
    objective_has_metric,
    orphan,
    output_not_outcome,
    sandbagging,
    stale_check_in,
    too_many_objectives,
)
from okr_service.okr.enums import Metric

NOW = datetime(2025, 2, 15, 12, 0, tzinfo=UTC)
TEAM_ID = UUID("00000000-0000-0000-0000-00000000000a")


def team(**changes: object) -> TeamFacts:
    base = TeamFacts(id=TEAM_ID, name="Growth", objective_count=4, closed_cycles=[(3, 5), (4, 6)])
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def objective(**changes: object) -> ObjectiveFacts:
    base = ObjectiveFacts(
        id=uuid4(),
        title="Transform onboarding into a confidence-building experience",
        team_id=TEAM_ID,
        team_has_parent=True,
        key_result_count=3,
        contributes_to_count=1,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def key_result(**changes: object) -> KeyResultFacts:
    base = KeyResultFacts(
        id=uuid4(),
        title="Increase onboarding completion from 68% to 85%",
        metric=Metric.PERCENTAGE,
        start_value=68.0,
        last_check_in_at=NOW - timedelta(days=2),
        cycle_active=True,
        cycle_starts_on=date(2025, 1, 1),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_check_is_a_frozen_value() -> None:
    subject = uuid4()
    check = Check(CheckCode.ORPHAN, Severity.INFO, "m", subject)
    assert check == Check("ORPHAN", Severity.INFO, "m", subject)
    with pytest.raises(dataclasses.FrozenInstanceError):
        check.message = "changed"  # type: ignore[misc]


def test_codes_and_severities_are_their_names() -> None:
    assert [code.value for code in CheckCode] == [
        "TOO_MANY_OBJECTIVES",
        "KR_COUNT",
        "OBJECTIVE_HAS_METRIC",
        "OUTPUT_NOT_OUTCOME",
        "MISSING_BASELINE",
        "STALE_CHECK_IN",
        "ORPHAN",
        "SANDBAGGING",
    ]
    assert [severity.value for severity in Severity] == ["INFO", "WARNING"]


# --- TOO_MANY_OBJECTIVES --------------------------------------------------


@pytest.mark.parametrize("count", [0, 1, 3, 5])
def test_up_to_five_objectives_is_fine(count: int) -> None:
    assert too_many_objectives(team(objective_count=count)) is None


@pytest.mark.parametrize("count", [6, 9])
def test_more_than_five_objectives(count: int) -> None:
    check = too_many_objectives(team(objective_count=count))
    assert check is not None
    assert check.code == "TOO_MANY_OBJECTIVES"
    assert check.severity is Severity.WARNING
    assert check.subject_id == TEAM_ID
    assert f"Growth has {count} objectives" in check.message


# --- SANDBAGGING ----------------------------------------------------------


@pytest.mark.parametrize(
    ("closed_cycles", "streak"),
    [
        ([(5, 5), (4, 4)], 2),  # two perfect cycles
        ([(5, 5), (4, 4), (3, 3)], 3),
        ([(5, 5), (0, 0), (3, 3)], 2),  # an empty cycle is skipped
        ([(6, 5), (2, 2)], 2),  # over-counted achievements are still 100%
        ([(1, 1), (1, 1)], 2),  # one KR each is enough
    ],
)
def test_sandbagging_fires(closed_cycles: list[tuple[int, int]], streak: int) -> None:
    check = sandbagging(team(closed_cycles=closed_cycles))
    assert check is not None
    assert check.code == "SANDBAGGING"
    assert check.severity is Severity.INFO
    assert check.subject_id == TEAM_ID
    assert f"last {streak} closed cycles" in check.message


@pytest.mark.parametrize(
    "closed_cycles",
    [
        [],  # no history
        [(5, 5)],  # one perfect cycle can be luck
        [(5, 5), (0, 0)],  # only one cycle with KRs
        [(0, 0), (0, 0)],  # no KRs at all
        [(5, 5), (3, 4)],  # one miss breaks it
        [(5, 5), (4, 4), (0, 3)],
        [(3, 5), (4, 6)],  # a healthy 60-70%
    ],
)
def test_sandbagging_does_not_fire(closed_cycles: list[tuple[int, int]]) -> None:
    assert sandbagging(team(closed_cycles=closed_cycles)) is None


def test_check_team_runs_every_team_rule() -> None:
    assert check_team(team()) == []
    codes = [c.code for c in check_team(team(objective_count=7, closed_cycles=[(2, 2), (3, 3)]))]
    assert codes == ["TOO_MANY_OBJECTIVES", "SANDBAGGING"]


# --- KR_COUNT -------------------------------------------------------------


@pytest.mark.parametrize("count", [2, 3, 4, 5])
def test_two_to_five_key_results_is_fine(count: int) -> None:
    assert key_result_count(objective(key_result_count=count)) is None


@pytest.mark.parametrize(
    ("count", "says"),
    [(0, "has no key results"), (1, "has only 1 key result"), (6, "has 6 key results")],
)
def test_key_result_count_outside_two_to_five(count: int, says: str) -> None:
    subject = objective(key_result_count=count)
    check = key_result_count(subject)
    assert check is not None
    assert check.code == "KR_COUNT"
    assert check.severity is Severity.WARNING
    assert check.subject_id == subject.id
    assert says in check.message


# --- OBJECTIVE_HAS_METRIC -------------------------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "Reach 85% onboarding completion",  # digits and percent
        "Win 3 enterprise deals",  # a digit
        "Own the Q3 launch",
        "Grow revenue past $2M",
        "Make every € count",  # a currency symbol alone
        "Bring in more ¥ from Japan",
        "Make onboarding 100 percent delightful",
        "Become a top ten vendor",  # spelled-out numbers
        "Open fifty new markets",
        "Double our customer base",
        "Halve support wait times",
        "Triple partner-sourced deals",
        "Improve NPS across all segments",  # metric words
        "Move the KPIs that matter",
        "Lift ARR in Europe",
        "Raise conversion by five per cent",
        "Track the right metrics",
        "Cut costs by 50 basis points",
    ],
)
def test_objective_with_a_metric(title: str) -> None:
    assert has_metric(title)
    subject = objective(title=title)
    check = objective_has_metric(subject)
    assert check is not None
    assert check.code == "OBJECTIVE_HAS_METRIC"
    assert check.severity is Severity.WARNING
    assert check.subject_id == subject.id
    assert title in check.message


@pytest.mark.parametrize(
    "title",
    [
        "Transform onboarding into a confidence-building experience",
        "Be the one place teams plan their work",  # "one" is too common to flag
        "Double down on enterprise customers",  # an idiom, not a target
        "Become the often-recommended choice",  # "ten" inside a word
        "Make billing effortless",
        "Delight our customers in every percentile",  # "percent" inside a word
        "Earn the trust of our partners",  # "arr" and "roi" only as whole words
    ],
)
def test_objective_without_a_metric(title: str) -> None:
    assert not has_metric(title)
    assert objective_has_metric(objective(title=title)) is None


# --- ORPHAN ---------------------------------------------------------------


def test_orphan_fires_when_a_team_with_a_parent_supports_nothing() -> None:
    subject = objective(team_has_parent=True, contributes_to_count=0)
    check = orphan(subject)
    assert check is not None
    assert check.code == "ORPHAN"
    assert check.severity is Severity.INFO
    assert check.subject_id == subject.id
    assert "contributes to no parent objective" in check.message


@pytest.mark.parametrize(
    ("team_has_parent", "contributes_to_count"),
    [(True, 1), (True, 3), (False, 0), (False, 2)],  # aligned, or a top team
)
def test_orphan_does_not_fire(team_has_parent: bool, contributes_to_count: int) -> None:
    subject = objective(team_has_parent=team_has_parent, contributes_to_count=contributes_to_count)
    assert orphan(subject) is None


def test_check_objective_runs_every_objective_rule() -> None:
    assert check_objective(objective()) == []
    bad = objective(title="Hit 10% growth", key_result_count=1, contributes_to_count=0)
    checks = check_objective(bad)
    assert [c.code for c in checks] == ["KR_COUNT", "OBJECTIVE_HAS_METRIC", "ORPHAN"]
    assert {c.subject_id for c in checks} == {bad.id}


# --- OUTPUT_NOT_OUTCOME ---------------------------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "Launch the new onboarding flow",
        "LAUNCH the partner API",  # any case
        "Launched: new pricing page",
        "Ship dark mode",
        "Shipping the mobile app by June",
        "Release v2 of the public API",
        "Implement SSO",
        "Build a partner portal",
        "Deliver the checkout redesign",
        "Create a help center",
        "Migrate billing to Stripe",
        "Complete the SOC 2 audit",
        "Deploy the new search",
        "Roll out SSO to all customers",
        "Redesign the settings page",
        "Rewrite the sync engine",
        "Publish the API docs",
        "New onboarding flow launched by March",  # an output verb anywhere
        "Checkout redesign shipped to all users",
        "Mobile app released",
        "Data warehouse built and documented",
        "SSO rolled out",
        "Billing migrated to Stripe",
    ],
)
def test_output_key_result(title: str) -> None:
    assert is_output(title)
    subject = key_result(title=title)
    check = output_not_outcome(subject)
    assert check is not None
    assert check.code == "OUTPUT_NOT_OUTCOME"
    assert check.severity is Severity.WARNING
    assert check.subject_id == subject.id
    assert "describes work to deliver" in check.message


@pytest.mark.parametrize(
    "title",
    [
        "Increase onboarding completion from 68% to 85%",
        "Reduce time to first value from 24 h to 15 min",
        "Reduce time to complete setup from 10 to 3 minutes",  # outcome first
        "Reduce shipping costs by 10%",
        "Increase build success rate to 95%",
        "Improve release frequency to weekly",
        "Keep availability at 99.99%",
        "NPS of 50 or more",
        "Shipment accuracy at 99%",  # lookalike nouns
        "Builder adoption reaches 40% of teams",
        "Completion rate of onboarding above 80%",
        "Integration partners bring 20% of signups",
        "Developer satisfaction score of 4.5",
    ],
)
def test_outcome_key_result(title: str) -> None:
    assert not is_output(title)
    assert output_not_outcome(key_result(title=title)) is None


def test_a_milestone_is_an_output_whatever_its_title() -> None:
    subject = key_result(title="Earn customer trust with SOC 2", metric=Metric.MILESTONE)
    check = output_not_outcome(subject)
    assert check is not None
    assert check.code == "OUTPUT_NOT_OUTCOME"
    assert "is a milestone" in check.message


@pytest.mark.parametrize("metric", [Metric.NUMBER, Metric.PERCENTAGE, Metric.CURRENCY])
def test_numeric_metrics_are_not_outputs_by_themselves(metric: Metric) -> None:
    assert output_not_outcome(key_result(metric=metric)) is None


# --- MISSING_BASELINE -----------------------------------------------------


def test_missing_baseline() -> None:
    subject = key_result(start_value=None)
    check = missing_baseline(subject)
    assert check is not None
    assert check.code == "MISSING_BASELINE"
    assert check.severity is Severity.WARNING
    assert check.subject_id == subject.id
    assert "no baseline" in check.message


@pytest.mark.parametrize("start_value", [0.0, 68.0, -3.5])  # zero is a baseline
def test_baseline_present(start_value: float) -> None:
    assert missing_baseline(key_result(start_value=start_value)) is None


# --- STALE_CHECK_IN -------------------------------------------------------


@pytest.mark.parametrize(
    ("last_check_in_at", "says"),
    [
        (NOW - timedelta(days=7, seconds=1), "for 7 days"),  # just past a week
        (NOW - timedelta(days=8), "for 8 days"),
        (NOW - timedelta(days=40), "for 40 days"),
    ],
)
def test_stale_check_in(last_check_in_at: datetime, says: str) -> None:
    subject = key_result(last_check_in_at=last_check_in_at)
    check = stale_check_in(subject, now=NOW)
    assert check is not None
    assert check.code == "STALE_CHECK_IN"
    assert check.severity is Severity.WARNING
    assert check.subject_id == subject.id
    assert says in check.message


@pytest.mark.parametrize(
    "last_check_in_at",
    [NOW, NOW - timedelta(days=1), NOW - timedelta(days=7)],  # exactly a week is fine
)
def test_fresh_check_in(last_check_in_at: datetime) -> None:
    assert stale_check_in(key_result(last_check_in_at=last_check_in_at), now=NOW) is None


def test_never_checked_in_counts_from_the_cycle_start() -> None:
    subject = key_result(last_check_in_at=None, cycle_starts_on=date(2025, 1, 1))
    check = stale_check_in(subject, now=NOW)  # 45.5 days after 1 January 00:00
    assert check is not None
    assert "since the cycle started 45 days ago" in check.message


@pytest.mark.parametrize(
    ("cycle_starts_on", "stale"),
    [
        (date(2025, 2, 10), False),  # 5 days in: not yet
        (date(2025, 2, 8), False),  # exactly 7 days at midnight
        (date(2025, 2, 7), True),  # 8 days
    ],
)
def test_never_checked_in_edges(cycle_starts_on: date, stale: bool) -> None:
    now = datetime(2025, 2, 15, tzinfo=UTC)
    subject = key_result(last_check_in_at=None, cycle_starts_on=cycle_starts_on)
    assert (stale_check_in(subject, now=now) is not None) is stale


def test_stale_check_in_with_naive_datetimes() -> None:
    now = datetime(2025, 2, 15, 12)
    assert stale_check_in(key_result(last_check_in_at=None), now=now) is not None
    assert stale_check_in(key_result(last_check_in_at=now - timedelta(days=3)), now=now) is None


@pytest.mark.parametrize("last_check_in_at", [None, NOW - timedelta(days=60)])
def test_no_stale_check_in_outside_an_active_cycle(last_check_in_at: datetime | None) -> None:
    subject = key_result(last_check_in_at=last_check_in_at, cycle_active=False)
    assert stale_check_in(subject, now=NOW) is None


def test_check_key_result_runs_every_key_result_rule() -> None:
    assert check_key_result(key_result(), now=NOW) == []
    bad = key_result(title="Ship the new app", start_value=None, last_check_in_at=None)
    checks = check_key_result(bad, now=NOW)
    assert [c.code for c in checks] == ["OUTPUT_NOT_OUTCOME", "MISSING_BASELINE", "STALE_CHECK_IN"]
    assert {c.subject_id for c in checks} == {bad.id}
