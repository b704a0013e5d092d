"""Every derived figure of key results and objectives: one definition each.

Pure, like the arithmetic underneath: rows (or anything shaped like them) and a clock in,
numbers out. The domain services are the only callers; GraphQL, reports, filters, the
health sweep, events and webhook payloads all reach these through them.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from okr_service.kit.numbers import to_float
from okr_service.okr.arithmetic import (
    assess_pace,
    expected_progress,
    impact_coverage,
    key_result_achieved,
    key_result_progress,
    objective_progress,
    weighted_mean,
)
from okr_service.okr.enums import (
    CycleState,
    Direction,
    Health,
    HealthReason,
    InitiativeStatus,
    Metric,
    ProgressMode,
)

Number = Decimal | float

# How deep a roll-up looks below an objective (a cascade is company > department > team >
# squad in practice; the cap only bounds what bad data could cost).
MAX_ROLLUP_DEPTH = 10
# The bets still open: done work is already in the current value, parked and cancelled
# ideas are not bets, proposed ones are not yet chosen.
OPEN_BETS = frozenset({InitiativeStatus.PLANNED, InitiativeStatus.IN_PROGRESS})


class KeyResultValues(Protocol):
    """What the figures need of a key result: an ORM object or a row."""

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
    def health(self) -> Health: ...
    @property
    def health_manual(self) -> bool: ...
    @property
    def final_score(self) -> Number | None: ...


class ObjectiveValues(Protocol):
    """What the figures need of an objective row."""

    @property
    def progress_mode(self) -> ProgressMode: ...
    @property
    def health(self) -> Health: ...
    @property
    def health_manual(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class CycleDates:
    starts_on: date
    ends_on: date
    # A closed cycle's OKRs are final: their health is frozen as it was announced at close.
    closed: bool = False

    @classmethod
    def of(cls, cycle: Any) -> "CycleDates":
        """The dates of a cycle row or entity (anything with starts_on, ends_on, state)."""
        return cls(cycle.starts_on, cycle.ends_on, cycle.state is CycleState.CLOSED)

    def expected_progress(self, today: date) -> float:
        return expected_progress(starts_on=self.starts_on, ends_on=self.ends_on, today=today)


@dataclass(frozen=True, slots=True)
class Assessment:
    health: Health
    reason: HealthReason


@dataclass(frozen=True, slots=True)
class KeyResultFigures:
    progress: float
    achieved: bool
    score: float
    expected_progress: float
    health: Health
    health_reason: HealthReason


@dataclass(frozen=True, slots=True)
class ObjectiveFigures:
    progress: float | None
    score: float | None
    expected_progress: float
    health: Health
    health_reason: HealthReason


# What a deleted objective measures (its deletion's payload still shows it): nothing.
NOTHING_MEASURED = ObjectiveFigures(
    progress=None,
    score=None,
    expected_progress=0.0,
    health=Health.ON_TRACK,
    health_reason=HealthReason.NOTHING_TO_MEASURE,
)


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


class ProgressMemo:
    """Key results' progress, each computed once: one read asks it of a key result's own
    figures, its objective's roll-up and its objective's score. Keyed by the row object
    (held here, so its identity stays unique), not by ID: two reads of one key result may
    hold different values."""

    __slots__ = ("_found",)

    def __init__(self) -> None:
        self._found: dict[int, tuple[KeyResultValues, float]] = {}

    def __call__(self, key_result: KeyResultValues) -> float:
        found = self._found.get(id(key_result))
        if found is None:
            found = self._found[id(key_result)] = (key_result, progress(key_result))
        return found[1]


ProgressOf = Callable[[KeyResultValues], float]  # `progress`, or a `ProgressMemo`


def score(key_result: KeyResultValues, *, progress_so_far: float | None = None) -> float:
    """The graded result: frozen when the cycle closed, else the progress so far (the
    caller passes it when it has computed it already)."""
    if key_result.final_score is not None:
        return float(key_result.final_score)
    return progress(key_result) if progress_so_far is None else progress_so_far


def assess(
    *, manual: bool, stored: Health, found: float | None, expected: float, closed: bool = False
) -> Assessment:
    """Health as a person set it, else as it stood when the cycle closed, else from
    progress against expected progress; an objective with nothing counted yet is on track
    (there is no sign of trouble)."""
    if manual:
        return Assessment(stored, HealthReason.SET_BY_HAND)
    if closed:
        return Assessment(stored, HealthReason.CYCLE_CLOSED)
    if found is None:
        return Assessment(Health.ON_TRACK, HealthReason.NOTHING_TO_MEASURE)
    return Assessment(*assess_pace(progress=found, expected=expected))


def key_result_figures(
    key_result: KeyResultValues,
    cycle: CycleDates,
    today: date,
    progress_of: ProgressOf = progress,
) -> KeyResultFigures:
    return _key_result_figures(key_result, cycle, cycle.expected_progress(today), progress_of)


def key_results_figures(
    key_results: Iterable[KeyResultValues], cycle: CycleDates, today: date
) -> list[KeyResultFigures]:
    """`key_result_figures` of each key result of one cycle (its expected progress, the
    same for all, computed once)."""
    expected = cycle.expected_progress(today)
    return [_key_result_figures(key_result, cycle, expected) for key_result in key_results]


def _key_result_figures(
    key_result: KeyResultValues,
    cycle: CycleDates,
    expected: float,
    progress_of: ProgressOf = progress,
) -> KeyResultFigures:
    found = progress_of(key_result)
    health = assess(
        manual=key_result.health_manual,
        stored=key_result.health,
        found=found,
        expected=expected,
        closed=cycle.closed,
    )
    return KeyResultFigures(
        progress=found,
        achieved=achieved(key_result),
        score=score(key_result, progress_so_far=found),
        expected_progress=expected,
        health=health.health,
        health_reason=health.reason,
    )


def key_result_coverage(
    key_result: KeyResultValues, bets: Iterable[tuple[Number | None, InitiativeStatus]]
) -> float | None:
    """Impact coverage: the expected impacts of the open bets (`OPEN_BETS`) over the gap
    from the current value to the target. `bets` holds (expected impact, status) of each
    linked initiative."""
    start = key_result.start_value
    return impact_coverage(
        direction=key_result.direction,
        current=to_float(key_result.current_value),
        start=float(start if start is not None else key_result.target_value),
        target=float(key_result.target_value),
        expected_impacts=[
            float(impact) for impact, status in bets if impact is not None and status in OPEN_BETS
        ],
    )


@dataclass(frozen=True, slots=True)
class ContributionGraph:
    """What a roll-up reads: each objective's mode and key results, and the objectives
    contributing to it (to it or to one of its key results), each once."""

    modes: Mapping[UUID, ProgressMode]
    key_results: Mapping[UUID, Sequence[KeyResultValues]]
    contributors: Mapping[UUID, Sequence[UUID]]


class RollUp:
    """Objective progress over a contribution graph, each objective computed once per
    depth still allowed below it.

    KEY_RESULTS: weighted mean of its key results. ALIGNED and BOTH also take the
    progress of every contributing objective (see `objective_progress`), rolled up the
    same way, down to `MAX_ROLLUP_DEPTH` levels below the objective asked about. The
    write path refuses loops; should one exist anyway, it is cut where it closes (and a
    remembered value may then depend on where the walk entered it).
    """

    def __init__(self, graph: ContributionGraph, progress_of: ProgressOf = progress) -> None:
        self.graph = graph
        self.progress_of = progress_of
        self._found: dict[tuple[UUID, int], float | None] = {}

    def progress(self, objective_id: UUID) -> float | None:
        return self._progress(objective_id, MAX_ROLLUP_DEPTH, frozenset())

    def _progress(self, objective_id: UUID, depth: int, path: frozenset[UUID]) -> float | None:
        key = (objective_id, depth)
        if key not in self._found:
            self._found[key] = self._compute(objective_id, depth, path | {objective_id})
        return self._found[key]

    def _compute(self, objective_id: UUID, depth: int, path: frozenset[UUID]) -> float | None:
        mode = self.graph.modes.get(objective_id, ProgressMode.KEY_RESULTS)
        aligned: list[float] = []
        if mode is not ProgressMode.KEY_RESULTS and depth > 0:
            for child in self.graph.contributors.get(objective_id, ()):
                if child in path:
                    continue
                found = self._progress(child, depth - 1, path)
                if found is not None:
                    aligned.append(found)
        key_results = self.graph.key_results.get(objective_id, ())
        return objective_progress(
            mode=mode,
            key_results=[(float(kr.weight), self.progress_of(kr)) for kr in key_results],
            aligned=aligned,
        )


def objective_figures(
    objective: ObjectiveValues,
    key_results: Sequence[KeyResultValues],
    rolled_up: float | None,
    cycle: CycleDates,
    today: date,
    progress_of: ProgressOf = progress,
) -> ObjectiveFigures:
    """`rolled_up` is the objective's progress from `RollUp` (which computed its key
    results' progress: pass the same `ProgressMemo` to both)."""
    expected = cycle.expected_progress(today)
    health = assess(
        manual=objective.health_manual,
        stored=objective.health,
        found=rolled_up,
        expected=expected,
        closed=cycle.closed,
    )
    return ObjectiveFigures(
        progress=rolled_up,
        score=weighted_mean(
            (float(kr.weight), score(kr, progress_so_far=progress_of(kr))) for kr in key_results
        ),
        expected_progress=expected,
        health=health.health,
        health_reason=health.reason,
    )
