"""OKR arithmetic, checked against hand-computed values."""

import math
from datetime import date

import pytest

from okr_service.okr.arithmetic import (
    AT_RISK_GAP,
    EARLY_CYCLE,
    OFF_TRACK_GAP,
    assess_pace,
    expected_progress,
    hit_rate,
    impact_coverage,
    key_result_achieved,
    key_result_progress,
    objective_progress,
    share,
    weighted_mean,
)
from okr_service.okr.enums import Direction, Health, Metric, ProgressMode

INC, DEC = Direction.INCREASE, Direction.DECREASE
LEAST, MOST = Direction.AT_LEAST, Direction.AT_MOST


def measure(
    metric: Metric, direction: Direction, start: float, target: float, current: float | None
) -> tuple[float, bool]:
    """(progress, achieved) of one key result."""
    progress = key_result_progress(
        metric=metric, direction=direction, start=start, target=target, current=current
    )
    achieved = key_result_achieved(
        metric=metric, direction=direction, start=start, target=target, current=current
    )
    return progress, achieved


# (direction, start, target, current, progress, achieved)
NUMBER_CASES = [
    # INCREASE: raise onboarding completion from 68 to 85
    (INC, 68, 85, 68, 0.0, False),
    (INC, 68, 85, 76.5, 0.5, False),
    (INC, 68, 85, 85, 1.0, True),  # exactly at target
    (INC, 68, 85, 90, 1.0, True),  # past target
    (INC, 68, 85, 60, 0.0, False),  # fell below the baseline
    (INC, 68, 85, None, 0.0, False),  # never measured: the baseline
    (INC, 0, 10, 2.5, 0.25, False),  # zero baseline
    (INC, -4, 0, -1, 0.75, False),  # zero target
    (INC, -10, 10, 0, 0.5, False),  # crosses zero
    (INC, -20, -10, -15, 0.5, False),  # all negative
    (INC, -20, -10, -25, 0.0, False),
    (INC, 5, 5, 5, 1.0, True),  # target == start: reached
    (INC, 5, 5, 6, 1.0, True),
    (INC, 5, 5, 4, 0.0, False),  # target == start: not reached
    (INC, 5, 5, None, 1.0, True),  # baseline already is the target
    (INC, 10, 5, 7, 1.0, True),  # target below baseline: already met
    (INC, 10, 5, 4, 0.0, False),  # ... and no longer met
    # DECREASE: cut time to first value from 24 h to 15 min; lower is better
    (DEC, 24, 0.25, 12.125, 0.5, False),
    (DEC, 100, 20, 100, 0.0, False),
    (DEC, 100, 20, 60, 0.5, False),
    (DEC, 100, 20, 40, 0.75, False),
    (DEC, 100, 20, 20, 1.0, True),  # exactly at target
    (DEC, 100, 20, 10, 1.0, True),  # past target
    (DEC, 100, 20, 120, 0.0, False),  # worse than the baseline
    (DEC, 100, 20, None, 0.0, False),
    (DEC, 8, 0, 2, 0.75, False),  # zero target
    (DEC, 0, -10, -2.5, 0.25, False),  # negative target
    (DEC, 10, -10, 0, 0.5, False),  # crosses zero
    (DEC, 5, 5, 5, 1.0, True),  # target == start: reached
    (DEC, 5, 5, 4, 1.0, True),
    (DEC, 5, 5, 6, 0.0, False),  # target == start: not reached
    (DEC, 5, 10, 8, 1.0, True),  # target above baseline: already met
    (DEC, 5, 10, 12, 0.0, False),
    # AT_LEAST from below: NPS from 40 to 50+, measured like INCREASE
    (LEAST, 40, 50, 45, 0.5, False),
    (LEAST, 40, 50, 50, 1.0, True),
    (LEAST, 40, 50, 55, 1.0, True),
    (LEAST, 40, 50, 30, 0.0, False),
    (LEAST, 40, 50, None, 0.0, False),
    (LEAST, -10, 0, -5, 0.5, False),  # zero target from below
    # AT_LEAST keeping a threshold it held: current / target
    (LEAST, 100, 80, 60, 0.75, False),
    (LEAST, 100, 80, 20, 0.25, False),
    (LEAST, 100, 80, 90, 1.0, True),
    (LEAST, 100, 80, None, 1.0, True),  # threshold already holds
    (LEAST, 80, 80, 40, 0.5, False),
    (LEAST, 100, 80, -10, 0.0, False),  # negative value, clamped
    (LEAST, 5, 0, -3, 0.0, False),  # zero threshold: no scale
    (LEAST, 5, 0, 0, 1.0, True),
    (LEAST, 0, -5, -10, 0.0, False),  # negative threshold: no scale
    (LEAST, 0, -5, -5, 1.0, True),
    # AT_MOST from above: churn from 8% to under 5%, measured like DECREASE
    (MOST, 8, 5, 6.5, 0.5, False),
    (MOST, 8, 5, 5, 1.0, True),
    (MOST, 8, 5, 3, 1.0, True),
    (MOST, 8, 5, 10, 0.0, False),
    (MOST, 8, 5, None, 0.0, False),
    (MOST, 10, -10, 0, 0.5, False),  # negative ceiling from above
    # AT_MOST keeping a ceiling it held: target / current
    (MOST, 4, 5, 8, 0.625, False),
    (MOST, 4, 5, 10, 0.5, False),
    (MOST, 5, 5, 20, 0.25, False),
    (MOST, 4, 5, 5, 1.0, True),
    (MOST, 4, 5, None, 1.0, True),  # ceiling already holds
    (MOST, 0, 0, 3, 0.0, False),  # zero incidents: no scale
    (MOST, 0, 0, 0, 1.0, True),
    (MOST, -20, -10, -5, 0.0, False),  # negative ceiling: no scale
    (MOST, -20, -10, -15, 1.0, True),
]


@pytest.mark.parametrize(
    ("direction", "start", "target", "current", "progress", "achieved"), NUMBER_CASES
)
def test_number_progress_and_achievement(
    direction: Direction,
    start: float,
    target: float,
    current: float | None,
    progress: float,
    achieved: bool,
) -> None:
    measured, met = measure(Metric.NUMBER, direction, start, target, current)
    assert measured == pytest.approx(progress)
    assert met is achieved


@pytest.mark.parametrize(
    ("direction", "start", "target", "current", "progress", "achieved"), NUMBER_CASES
)
def test_progress_is_one_exactly_when_achieved(
    direction: Direction,
    start: float,
    target: float,
    current: float | None,
    progress: float,
    achieved: bool,
) -> None:
    value = key_result_progress(
        metric=Metric.NUMBER, direction=direction, start=start, target=target, current=current
    )
    assert 0.0 <= value <= 1.0
    assert (value == 1.0) is achieved


@pytest.mark.parametrize("metric", [Metric.NUMBER, Metric.PERCENTAGE, Metric.CURRENCY])
def test_numeric_metrics_share_the_arithmetic(metric: Metric) -> None:
    assert key_result_progress(
        metric=metric, direction=INC, start=68, target=85, current=76.5
    ) == pytest.approx(0.5)


# (direction, start, target, current, progress)
MILESTONE_CASES = [
    (INC, 0, 1, None, 0.0),  # yes/no milestone, not done
    (INC, 0, 1, 0, 0.0),
    (INC, 0, 1, 0.9, 0.0),  # no partial credit
    (INC, 0, 1, 1, 1.0),  # done
    (INC, 0, 1, 2, 1.0),
    (INC, 0, 3, 2, 0.0),  # 2 of 3 steps is still not done
    (INC, 0, 3, 3, 1.0),
    (LEAST, 0, 1, 1, 1.0),
    (LEAST, 0, 1, 0, 0.0),
    (DEC, 5, 0, 2, 0.0),  # direction-aware: done when down at target
    (DEC, 5, 0, 0, 1.0),
    (MOST, 5, 0, 0, 1.0),
]


@pytest.mark.parametrize(("direction", "start", "target", "current", "progress"), MILESTONE_CASES)
def test_milestone_is_all_or_nothing(
    direction: Direction, start: float, target: float, current: float | None, progress: float
) -> None:
    assert measure(Metric.MILESTONE, direction, start, target, current) == (progress, progress == 1)


@pytest.mark.parametrize("direction", list(Direction))
@pytest.mark.parametrize(
    ("start", "target", "current"),
    [
        (0, 10, math.nan),
        (0, 10, math.inf),
        (0, 10, -math.inf),
        (math.nan, 10, 5),
        (math.inf, 10, 5),
        (-math.inf, 10, 5),
        (0, math.nan, 5),
        (0, math.inf, 5),
        (math.inf, math.inf, math.inf),
        (-1e308, 1e308, 0),  # the gap overflows to inf
        (0, 5e-324, 1e-324),  # a subnormal gap
    ],
)
def test_progress_is_never_nan_or_inf(
    direction: Direction, start: float, target: float, current: float
) -> None:
    for metric in Metric:
        value = key_result_progress(
            metric=metric, direction=direction, start=start, target=target, current=current
        )
        assert math.isfinite(value)
        assert 0.0 <= value <= 1.0


# A 10-day cycle, 1..10 January 2025, and a 90-day quarter.
JAN_1, JAN_10 = date(2025, 1, 1), date(2025, 1, 10)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2024, 6, 1), 0.0),  # long before
        (date(2024, 12, 31), 0.0),  # the day before
        (JAN_1, 0.1),  # first day: one day's share
        (date(2025, 1, 2), 0.2),
        (date(2025, 1, 5), 0.5),
        (date(2025, 1, 9), 0.9),
        (JAN_10, 1.0),  # last day counts as full
        (date(2025, 1, 11), 1.0),  # after
        (date(2030, 1, 1), 1.0),
    ],
)
def test_expected_progress_through_a_cycle(today: date, expected: float) -> None:
    assert expected_progress(starts_on=JAN_1, ends_on=JAN_10, today=today) == pytest.approx(
        expected
    )


def test_expected_progress_through_a_quarter() -> None:
    quarter = {"starts_on": date(2025, 1, 1), "ends_on": date(2025, 3, 31)}  # 90 days
    assert expected_progress(**quarter, today=date(2025, 2, 14)) == pytest.approx(45 / 90)
    assert expected_progress(**quarter, today=date(2025, 3, 31)) == 1.0


@pytest.mark.parametrize(
    ("starts_on", "ends_on", "today", "expected"),
    [
        (JAN_1, JAN_1, date(2024, 12, 31), 0.0),  # one-day cycle
        (JAN_1, JAN_1, JAN_1, 1.0),
        (JAN_1, JAN_1, JAN_10, 1.0),
        (JAN_10, JAN_1, date(2024, 12, 31), 0.0),  # ends before it starts:
        (JAN_10, JAN_1, date(2025, 1, 5), 0.0),  # read as the day it starts
        (JAN_10, JAN_1, JAN_10, 1.0),
        (JAN_10, JAN_1, date(2025, 1, 11), 1.0),
    ],
)
def test_expected_progress_of_degenerate_cycles(
    starts_on: date, ends_on: date, today: date, expected: float
) -> None:
    assert expected_progress(starts_on=starts_on, ends_on=ends_on, today=today) == expected


def test_health_thresholds_leave_room_for_the_early_rule() -> None:
    assert 0 < AT_RISK_GAP < OFF_TRACK_GAP < EARLY_CYCLE < 1


@pytest.mark.parametrize(
    ("progress", "expected", "health"),
    [
        (0.0, 0.0, Health.ON_TRACK),  # nothing expected yet
        (1.0, 1.0, Health.ON_TRACK),
        (0.5, 0.5, Health.ON_TRACK),  # on the line
        (0.9, 0.5, Health.ON_TRACK),  # ahead
        (1.0, 0.2, Health.ON_TRACK),
        (0.4, 0.5, Health.ON_TRACK),  # gap exactly AT_RISK_GAP
        (0.7, 0.8, Health.ON_TRACK),  # ... despite float error (0.10000000000000009)
        (0.0, 0.1, Health.ON_TRACK),
        (0.39, 0.5, Health.AT_RISK),  # just past it
        (0.0, 0.11, Health.AT_RISK),
        (0.25, 0.5, Health.AT_RISK),  # gap exactly OFF_TRACK_GAP
        (0.55, 0.8, Health.AT_RISK),
        (0.75, 1.0, Health.AT_RISK),  # end of cycle, a quarter short
        (0.24, 0.5, Health.OFF_TRACK),  # just past it
        (0.74, 1.0, Health.OFF_TRACK),
        (0.0, 1.0, Health.OFF_TRACK),
        (0.0, 0.29, Health.AT_RISK),  # early: gap 0.29 but never off track
        (0.0, 0.2999, Health.AT_RISK),
        (0.04, 0.3, Health.OFF_TRACK),  # expected exactly EARLY_CYCLE: no longer early
        (0.0, 0.3, Health.OFF_TRACK),
    ],
)
def test_assess_pace(progress: float, expected: float, health: Health) -> None:
    assert assess_pace(progress=progress, expected=expected)[0] is health


@pytest.mark.parametrize(
    ("pairs", "mean"),
    [
        ([], None),
        ([(1.0, 0.5)], 0.5),
        ([(1.0, 0.0), (1.0, 1.0)], 0.5),
        ([(3.0, 1.0), (1.0, 0.0)], 0.75),
        ([(0.5, 0.2), (1.5, 0.6)], 0.5),
        ([(2.0, 0.5), (0.0, 1.0)], 0.5),  # weight 0 does not count
        ([(0.0, 0.2), (0.0, 0.8)], None),  # nothing counts: no mean
        ([(0.0, 0.2)], None),
        ([(-1.0, 1.0), (1.0, 0.2)], 0.2),  # negative weight counts as 0
        ([(-1.0, 1.0)], None),
        ([(math.nan, 1.0), (1.0, 0.4)], 0.4),  # NaN weight counts as 0
    ],
)
def test_weighted_mean(pairs: list[tuple[float, float]], mean: float | None) -> None:
    assert weighted_mean(pairs) == pytest.approx(mean)


def test_weighted_mean_takes_any_iterable() -> None:
    assert weighted_mean((w, v) for w, v in [(1.0, 0.2), (1.0, 0.4)]) == pytest.approx(0.3)


KEY_RESULTS, ALIGNED, BOTH = ProgressMode.KEY_RESULTS, ProgressMode.ALIGNED, ProgressMode.BOTH


@pytest.mark.parametrize(
    ("mode", "key_results", "aligned", "progress"),
    [
        (KEY_RESULTS, [(1.0, 0.2), (3.0, 0.6)], [1.0], 0.5),  # children ignored
        (KEY_RESULTS, [(1.0, 0.2), (1.0, 0.4)], [], 0.3),
        (KEY_RESULTS, [], [1.0], None),
        (KEY_RESULTS, [(0.0, 0.9)], [1.0], None),  # all weights zero
        (ALIGNED, [(1.0, 0.2), (3.0, 0.6)], [1.0], 1.0),  # KRs ignored
        (ALIGNED, [], [0.2, 0.4], 0.3),
        (ALIGNED, [(1.0, 0.5)], [], None),
        # BOTH pools KRs and children, each child as a KR of weight 1
        (BOTH, [(1.0, 0.2), (1.0, 0.4), (1.0, 0.6)], [1.0], 0.55),
        (BOTH, [(2.0, 0.5)], [0.0, 1.0], 0.5),
        (BOTH, [(3.0, 0.0)], [1.0], 0.25),
        (BOTH, [], [0.2, 0.4], 0.3),  # only children
        (BOTH, [(1.0, 0.2), (3.0, 0.6)], [], 0.5),  # only KRs
        (BOTH, [(0.0, 0.1)], [0.8], 0.8),  # zero-weight KR does not count
        (BOTH, [(0.0, 0.1)], [], None),
        (BOTH, [], [], None),
    ],
)
def test_objective_progress(
    mode: ProgressMode,
    key_results: list[tuple[float, float]],
    aligned: list[float],
    progress: float | None,
) -> None:
    assert objective_progress(mode=mode, key_results=key_results, aligned=aligned) == (
        pytest.approx(progress)
    )


@pytest.mark.parametrize(
    ("direction", "current", "start", "target", "impacts", "coverage"),
    [
        (INC, 68, 60, 85, [8, 4.75], 0.75),  # gap from current, not start
        (INC, None, 68, 85, [8, 4.75], 0.75),  # unmeasured: gap from start
        (INC, 0, 0, 10, [6, -2], 0.4),  # a negative impact is expected to hurt
        (INC, 0, 0, 10, [0.0], 0.0),
        (INC, 80, 68, 85, [10], 2.0),  # over-covered, not clamped
        (DEC, 24, 24, 4, [-5, -5], 0.5),  # impacts written as the metric's fall
        (DEC, 24, 24, 0.25, [-6, -2], 8 / 23.75),  # the guide: time to first value
        (DEC, 24, 24, 4, [-6, 2], 0.2),  # a rise works against a falling target
        (DEC, 10, 24, 5, [-10], 2.0),
        (DEC, -2, 0, -10, [-4], 0.5),  # negative values
        (INC, 68, 68, 85, [8, 4, 5], 1.0),  # the guide: onboarding completion
        (LEAST, 40, 40, 50, [5], 0.5),
        (MOST, 8, 8, 5, [-1.5], 0.5),
        (INC, 0, 0, 10, [], None),  # no impacts
        (INC, 85, 68, 85, [5], None),  # at target: no gap
        (INC, 90, 68, 85, [5], None),  # past target
        (INC, None, 5, 5, [5], None),  # start == target
        (DEC, 4, 24, 4, [5], None),
        (DEC, 3, 24, 5, [5], None),
        (LEAST, 60, 40, 50, [5], None),
        (MOST, 2, 8, 5, [5], None),
    ],
)
def test_impact_coverage(
    direction: Direction,
    current: float | None,
    start: float,
    target: float,
    impacts: list[float],
    coverage: float | None,
) -> None:
    result = impact_coverage(
        direction=direction, current=current, start=start, target=target, expected_impacts=impacts
    )
    assert result == pytest.approx(coverage)


@pytest.mark.parametrize(
    ("part", "whole", "ratio"),
    [(3, 4, 0.75), (0, 5, 0.0), (5, 5, 1.0), (7, 10, 0.7), (0, 0, None), (1, -1, None)],
)
def test_share_and_hit_rate(part: int, whole: int, ratio: float | None) -> None:
    assert share(part, whole) == pytest.approx(ratio)
    assert hit_rate(part, whole) == pytest.approx(ratio)
