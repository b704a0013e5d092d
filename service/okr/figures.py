"""The figures of one key result, from its stored values: the same numbers everywhere.

Pure, like the arithmetic underneath; the API, the reports and the write path (which
keeps the stored health and emits health events) all call these.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from service.kit.numbers import to_float
from service.okr.arithmetic import (
    derive_health,
    expected_progress,
    key_result_achieved,
    key_result_progress,
    objective_progress,
    weighted_mean,
)
from service.okr.enums import Direction, Health, Metric, ProgressMode

Number = Decimal | float


class KeyResultValues(Protocol):
    """What the figures need of a key result: an ORM object, a row or an API type."""

    @property
    def metric(self) -> Metric: ...
    @property
    def direction(self) -> Direction: ...
    @property
    def start_value(self) -> Number | None: ...
    @property
    def target_value(self) -> Number: ...
    @property
    def current_value(self) -> Number | None: ...
    @property
    def weight(self) -> Number: ...
    @property
    def stored_health(self) -> Health: ...
    @property
    def health_manual(self) -> bool: ...
    @property
    def final_score(self) -> Number | None: ...


@dataclass(frozen=True, slots=True)
class CycleDates:
    starts_on: date
    ends_on: date

    def expected_progress(self, today: date) -> float:
        return expected_progress(starts_on=self.starts_on, ends_on=self.ends_on, today=today)


def achieved(key_result: KeyResultValues) -> bool:
    """The target is met by the latest value (the baseline until a first check-in)."""
    value = (
        key_result.current_value if key_result.current_value is not None else key_result.start_value
    )
    if value is None:
        return False
    measured = float(value)
    return key_result_achieved(
        metric=key_result.metric,
        direction=key_result.direction,
        start=measured,
        target=float(key_result.target_value),
        current=measured,
    )


def progress(key_result: KeyResultValues) -> float:
    """Direction-aware progress 0..1. Without a baseline there is no distance to measure:
    0 until the target is met, then 1 (the MISSING_BASELINE check says why)."""
    if key_result.start_value is None:
        return 1.0 if achieved(key_result) else 0.0
    return key_result_progress(
        metric=key_result.metric,
        direction=key_result.direction,
        start=float(key_result.start_value),
        target=float(key_result.target_value),
        current=to_float(key_result.current_value),
    )


def score(key_result: KeyResultValues) -> float:
    """The graded result: frozen when the cycle closed, else the progress so far."""
    if key_result.final_score is not None:
        return float(key_result.final_score)
    return progress(key_result)


def health(key_result: KeyResultValues, cycle: CycleDates, today: date) -> Health:
    """Health as a person set it, else derived from progress against expected progress."""
    if key_result.health_manual:
        return key_result.stored_health
    return derive_health(progress=progress(key_result), expected=cycle.expected_progress(today))


def objective_progress_of(
    key_results: Sequence[KeyResultValues],
    mode: ProgressMode = ProgressMode.KEY_RESULTS,
    aligned: Sequence[float] = (),
) -> float | None:
    """Weighted mean of the key results' progress, optionally rolling up aligned objectives."""
    return objective_progress(
        mode=mode,
        key_results=[(float(kr.weight), progress(kr)) for kr in key_results],
        aligned=aligned,
    )


def objective_score(key_results: Sequence[KeyResultValues]) -> float | None:
    return weighted_mean((float(kr.weight), score(kr)) for kr in key_results)


def objective_health(
    key_results: Sequence[KeyResultValues],
    cycle: CycleDates,
    today: date,
    mode: ProgressMode = ProgressMode.KEY_RESULTS,
    aligned: Sequence[float] = (),
) -> Health | None:
    """Derived from the objective's progress; None when nothing can be measured yet."""
    found = objective_progress_of(key_results, mode, aligned)
    if found is None:
        return None
    return derive_health(progress=found, expected=cycle.expected_progress(today))
