"""A request's figures share its key results' progress without changing a figure."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from okr_service.okr import figures
from okr_service.okr.enums import Direction, Health, Metric, ProgressMode
from okr_service.okr.figures import (
    ContributionGraph,
    CycleDates,
    ProgressMemo,
    RollUp,
    key_result_figures,
    objective_figures,
)

CYCLE = CycleDates(date(2026, 1, 1), date(2026, 3, 31))
TODAY = date(2026, 2, 10)
OBJECTIVE_ID = uuid4()


@dataclass
class KeyResultRow:
    metric: Metric
    direction: Direction
    start_value: Decimal | None
    target_value: Decimal
    current_value: Decimal | None
    weight: Decimal = Decimal(1)
    health: Health = Health.ON_TRACK
    health_manual: bool = False
    final_score: Decimal | None = None


@dataclass
class ObjectiveRow:
    progress_mode: ProgressMode = ProgressMode.KEY_RESULTS
    health: Health = Health.ON_TRACK
    health_manual: bool = False


values = st.decimals(-1000, 1000, places=2)
key_result_rows = st.builds(
    KeyResultRow,
    metric=st.sampled_from(Metric),
    direction=st.sampled_from(Direction),
    start_value=values | st.none(),
    target_value=values,
    current_value=values | st.none(),
    weight=st.decimals(1, 10, places=0),
    final_score=st.decimals(0, 1, places=2) | st.none(),
)


class Counting:
    """`progress`, counting its calls per row."""

    def __init__(self) -> None:
        self.calls: dict[int, int] = {}

    def __call__(self, key_result: Any) -> float:
        self.calls[id(key_result)] = self.calls.get(id(key_result), 0) + 1
        return ORIGINAL_PROGRESS(key_result)


ORIGINAL_PROGRESS = figures.progress


@given(rows=st.lists(key_result_rows, min_size=1, max_size=6))
def test_shared_progress_changes_no_figure(rows: list[KeyResultRow]) -> None:
    """Key results' and their objective's figures are the same with one memo for all as
    with each computed alone."""
    objective = ObjectiveRow()
    graph = ContributionGraph({OBJECTIVE_ID: objective.progress_mode}, {OBJECTIVE_ID: rows}, {})
    memo = ProgressMemo()
    shared_roll_up = RollUp(graph, memo).progress(OBJECTIVE_ID)
    alone_roll_up = RollUp(graph).progress(OBJECTIVE_ID)
    assert shared_roll_up == alone_roll_up
    assert objective_figures(objective, rows, shared_roll_up, CYCLE, TODAY, memo) == (
        objective_figures(objective, rows, alone_roll_up, CYCLE, TODAY)
    )
    for row in rows:
        assert key_result_figures(row, CYCLE, TODAY, memo) == key_result_figures(row, CYCLE, TODAY)


def test_each_row_progress_is_computed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    counting = Counting()
    monkeypatch.setattr(figures, "progress", counting)
    row = KeyResultRow(Metric.NUMBER, Direction.INCREASE, Decimal(0), Decimal(10), Decimal(4))
    graph = ContributionGraph({OBJECTIVE_ID: ProgressMode.KEY_RESULTS}, {OBJECTIVE_ID: [row]}, {})
    memo = ProgressMemo()
    rolled_up = RollUp(graph, memo).progress(OBJECTIVE_ID)
    objective_figures(ObjectiveRow(), [row], rolled_up, CYCLE, TODAY, memo)
    found = key_result_figures(row, CYCLE, TODAY, memo)
    assert found.progress == rolled_up == 0.4
    assert counting.calls == {id(row): 1}


def test_memo_tells_rows_apart_not_ids() -> None:
    """Two reads of one key result may hold different values: each is measured."""
    memo = ProgressMemo()
    before = KeyResultRow(Metric.NUMBER, Direction.INCREASE, Decimal(0), Decimal(10), Decimal(2))
    after = KeyResultRow(Metric.NUMBER, Direction.INCREASE, Decimal(0), Decimal(10), Decimal(8))
    assert (memo(before), memo(after)) == (0.2, 0.8)
