"""OKR arithmetic: key result progress, health, roll-ups, coverage and rates.

Pure functions over plain values (no I/O, no clock): the database layer, the
GraphQL layer and reports all compute the same numbers from the same rules.
Progress fractions are 0..1, never NaN or inf, whatever the inputs.
"""

import math
from collections.abc import Iterable, Sequence
from datetime import date

from okr_service.okr.enums import Direction, Health, HealthReason, Metric, ProgressMode

# Health compares progress with where a linear path says the KR should be:
# gap = expected - progress. A quarter has ~13 weekly check-ins, so a gap of
# 0.10 is a little over a week behind: check-in noise and lumpy metrics, still
# on track. Up to 0.25 (~3 weeks) behind is at risk: recoverable if acted on.
# More than that is off track.
AT_RISK_GAP = 0.10
OFF_TRACK_GAP = 0.25
# Before 30% of the cycle (~the first monthly review of a quarter) lagging
# metrics have rarely moved yet, so a KR can be at risk but never off track.
EARLY_CYCLE = 0.30
# Lets a gap of exactly a threshold count as within it despite float error
# (0.8 - 0.7 == 0.10000000000000009).
_EPSILON = 1e-9


def _clamp(value: float) -> float:
    """Clamp to 0..1; NaN (only from non-finite inputs) becomes 0."""
    if math.isnan(value):
        return 0.0
    return min(1.0, max(0.0, value))


def _toward(moved: float, gap: float) -> float:
    """Fraction of a positive gap covered; no gap to cover gives 0."""
    if gap <= 0:
        return 0.0
    return _clamp(moved / gap)


def _higher_is_better(direction: Direction) -> bool:
    return direction in (Direction.INCREASE, Direction.AT_LEAST)


def key_result_achieved(
    *, metric: Metric, direction: Direction, start: float, target: float, current: float | None
) -> bool:
    """Whether the KR meets its target, direction-aware.

    INCREASE/AT_LEAST: current >= target; DECREASE/AT_MOST: current <= target.
    A missing current value is read as the baseline (nothing measured since).
    `metric` does not change what "met" means (a yes/no milestone is start 0,
    target 1, done at 1); it is accepted so both KR functions share arguments.
    """
    value = start if current is None else current
    if _higher_is_better(direction):
        return value >= target
    return value <= target


def key_result_progress(
    *, metric: Metric, direction: Direction, start: float, target: float, current: float | None
) -> float:
    """Fraction 0..1 of the way to the target; 1 exactly when achieved.

    - INCREASE: (current - start) / (target - start).
    - DECREASE: (start - current) / (start - target): lower is better, yet
      progress still rises 0 -> 1 as the value falls.
    - When the target is not beyond the baseline (target == start, or on the
      wrong side of it) there is no distance to cover: 1 if met, else 0.
    - AT_LEAST / AT_MOST: see `_at_least_closeness` / `_at_most_closeness`.
    - MILESTONE: 0 or 1, nothing in between.
    A missing current value is the baseline: 0 unless a threshold already holds.
    """
    value = start if current is None else current
    met = key_result_achieved(
        metric=metric, direction=direction, start=start, target=target, current=value
    )
    if met:
        return 1.0
    if metric is Metric.MILESTONE:
        return 0.0
    if direction is Direction.INCREASE:
        return _toward(value - start, target - start)
    if direction is Direction.DECREASE:
        return _toward(start - value, start - target)
    if direction is Direction.AT_LEAST:
        return _at_least_closeness(value, start, target)
    return _at_most_closeness(value, start, target)


def _at_least_closeness(value: float, start: float, target: float) -> float:
    """How close a value below an at-least threshold is to it.

    From a baseline below the threshold it is climbing to it: measured like
    INCREASE. From a baseline already at/above it (the KR is about keeping it)
    it is the share of a positive threshold still reached: current / target.
    A zero or negative threshold has no scale to measure by: missed is 0.
    """
    if start < target:
        return _toward(value - start, target - start)
    if target > 0:
        return _clamp(value / target)
    return 0.0


def _at_most_closeness(value: float, start: float, target: float) -> float:
    """How close a value above an at-most ceiling is to it.

    From a baseline above the ceiling it is coming down to it: measured like
    DECREASE. Otherwise it is target / current for a positive ceiling (a churn
    of 8% against "under 5%" is 0.625). A ceiling of zero or below (zero
    incidents) has no scale: missed is 0.
    """
    if start > target:
        return _toward(start - value, start - target)
    if target > 0:
        return _clamp(target / value)  # value > target > 0 here
    return 0.0


def expected_progress(*, starts_on: date, ends_on: date, today: date) -> float:
    """Where a KR moving linearly through its cycle should be by the end of today.

    Both dates are inclusive: on `starts_on` one day's share is expected, on
    `ends_on` the whole target (the last day is a day of work too). 0 before
    the cycle, 1 after it. A cycle ending before it starts is read as the
    single day `starts_on`.
    """
    last = max(ends_on, starts_on)
    days = (last - starts_on).days + 1
    elapsed = (today - starts_on).days + 1
    return _clamp(elapsed / days)


def assess_pace(*, progress: float, expected: float) -> tuple[Health, HealthReason]:
    """Health from how far progress lags the expected linear path, with the reason: on
    pace, behind, far behind, or far behind but early enough to count only as at risk.

    A gap exactly at a threshold counts on the better side. Early in the
    cycle (expected < EARLY_CYCLE) nothing is worse than at risk.
    """
    gap = expected - progress
    if gap <= AT_RISK_GAP + _EPSILON:
        return Health.ON_TRACK, HealthReason.ON_PACE
    if gap <= OFF_TRACK_GAP + _EPSILON:
        return Health.AT_RISK, HealthReason.BEHIND
    if expected < EARLY_CYCLE:
        return Health.AT_RISK, HealthReason.EARLY_IN_CYCLE
    return Health.OFF_TRACK, HealthReason.FAR_BEHIND


def weighted_mean(pairs: Iterable[tuple[float, float]]) -> float | None:
    """Mean of (weight, value) pairs by weight.

    Weight 0 means "does not count" (negative or NaN weights count as 0), so
    when nothing counts there is no mean: None, as for no pairs at all. No
    silent fallback to a plain mean: that would count what was excluded.
    """
    total_weight = 0.0
    total = 0.0
    for weight, value in pairs:
        counted = weight if weight > 0 else 0.0
        total_weight += counted
        total += counted * value
    if total_weight <= 0:
        return None
    return total / total_weight


def objective_progress(
    *, mode: ProgressMode, key_results: Sequence[tuple[float, float]], aligned: Sequence[float]
) -> float | None:
    """Progress of an objective, or None when there is nothing to measure.

    `key_results` holds (weight, progress) pairs, `aligned` the progress of
    the objectives aligned under it.
    - KEY_RESULTS: weighted mean of its KRs.
    - ALIGNED: plain mean of the aligned child objectives.
    - BOTH: one pool where each child counts like a KR of weight 1 (the
      default KR weight): 3 KRs and 1 child give the child a quarter. Pooling
      keeps one weak KR from weighing as much as all the children together.
    """
    children = [(1.0, progress) for progress in aligned]
    if mode is ProgressMode.KEY_RESULTS:
        return weighted_mean(key_results)
    if mode is ProgressMode.ALIGNED:
        return weighted_mean(children)
    return weighted_mean([*key_results, *children])


def impact_coverage(
    *,
    direction: Direction,
    current: float | None,
    start: float,
    target: float,
    expected_impacts: Sequence[float],
) -> float | None:
    """Sum of the open bets' expected impacts over the gap still to close.

    Impacts are written as the metric's expected move, in the KR's unit: "+8
    points" on a rising completion rate, "-6 hours" on a falling time to first
    value. A move toward the target counts for it, a move away against it. The
    gap runs from current (the baseline if unmeasured) to the target. 1 means
    the bets just close it, above 1 is over-covered; not clamped, so that
    shows. None when there is no gap left (at or past target) or no impacts.
    """
    if not expected_impacts:
        return None
    value = start if current is None else current
    higher_is_better = _higher_is_better(direction)
    gap = target - value if higher_is_better else value - target
    if gap <= 0:
        return None
    toward_target = math.fsum(expected_impacts)
    return (toward_target if higher_is_better else -toward_target) / gap


def share(part: int, whole: int) -> float | None:
    """part / whole; None when whole is not positive (nothing to measure)."""
    if whole <= 0:
        return None
    return part / whole


def hit_rate(achieved: int, total: int) -> float | None:
    """Achieved KRs over all KRs of a cycle (healthy: 0.6-0.7); None without KRs."""
    return share(achieved, total)


def ice_score(impact: int | None, confidence: int | None, ease: int | None) -> int | None:
    """Impact x confidence x ease, the initiatives' ranking; None unless all three are set."""
    if impact is None or confidence is None or ease is None:
        return None
    return impact * confidence * ease
