"""Key result and objective figures through the API.

Cycles run from day -49 to day +50 (100 days, both inclusive), so today is day 50 of 100 and
expected progress is exactly 0.5. Derived health then is ON_TRACK for progress >= 0.40 (gap <=
0.10), AT_RISK for progress >= 0.25 (gap <= 0.25) and OFF_TRACK below.
"""

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests import factories
from tests.conftest import Api
from tests.reports.support import (
    approx,
    at,
    check_in,
    contributes,
    cycle,
    events,
    link_initiative,
    node,
    uuid_of,
)

KR = "... on KeyResult { progress achieved score expectedProgress health impactCoverage }"
OBJECTIVE = "... on Objective { progress score expectedProgress health }"


async def half_way(api: Api) -> tuple[str, str, str]:
    """A team, a cycle half way through, and an objective in it."""
    team = await factories.team(api, "Growth squad")
    cycle_id = await cycle(api, "Now", -49, 50)
    objective = await factories.objective(api, team, cycle_id, "Turn trials into customers")
    return team, cycle_id, objective


def figures(
    progress: float, achieved: bool, health: str, coverage: float | None = None
) -> dict[str, Any]:
    return {
        "progress": progress,
        "achieved": achieved,
        "score": progress,  # the cycle is open: the score is the progress so far
        "expectedProgress": 0.5,
        "health": health,
        "impactCoverage": coverage,
    }


# (direction, metric, start, target, [(check-in value, progress, achieved, derived health)])
DIRECTIONS = [
    (
        "INCREASE",
        "NUMBER",
        10,
        20,
        [
            (10, 0.0, False, "OFF_TRACK"),  # at baseline
            (8, 0.0, False, "OFF_TRACK"),  # below baseline: clamped to 0
            (14, 0.4, False, "ON_TRACK"),  # 4 / 10; gap 0.10 exactly: still on track
            (13.5, 0.35, False, "AT_RISK"),  # gap 0.15
            (20, 1.0, True, "ON_TRACK"),  # exactly at target
            (25, 1.0, True, "ON_TRACK"),  # past target: clamped to 1
        ],
    ),
    (
        "DECREASE",
        "NUMBER",
        24,
        4,
        [
            (24, 0.0, False, "OFF_TRACK"),
            (30, 0.0, False, "OFF_TRACK"),  # worse than baseline
            (19, 0.25, False, "AT_RISK"),  # (24 - 19) / 20; gap 0.25 exactly: at risk
            (18, 0.3, False, "AT_RISK"),
            (14, 0.5, False, "ON_TRACK"),  # lower is better, progress still rises
            (4, 1.0, True, "ON_TRACK"),
            (1, 1.0, True, "ON_TRACK"),
        ],
    ),
    (
        "AT_LEAST",
        "PERCENTAGE",
        99.5,
        99.9,
        [
            (99.5, 0.0, False, "OFF_TRACK"),  # climbing to the threshold from below
            (99.7, 0.5, False, "ON_TRACK"),  # (99.7 - 99.5) / 0.4
            (99.9, 1.0, True, "ON_TRACK"),
            (99.99, 1.0, True, "ON_TRACK"),
        ],
    ),
    (
        "AT_LEAST",
        "NUMBER",
        52,
        50,
        [
            (50, 1.0, True, "ON_TRACK"),  # keeping a threshold that held at baseline
            (40, 0.8, False, "ON_TRACK"),  # 40 / 50 of the threshold
            (10, 0.2, False, "OFF_TRACK"),
        ],
    ),
    (
        "AT_MOST",
        "PERCENTAGE",
        3,
        5,
        [
            (5, 1.0, True, "ON_TRACK"),  # at the ceiling
            (8, 0.625, False, "ON_TRACK"),  # 5 / 8 of the ceiling
            (20, 0.25, False, "AT_RISK"),
        ],
    ),
    (
        "AT_MOST",
        "NUMBER",
        9,
        5,
        [
            (7, 0.5, False, "ON_TRACK"),  # coming down to the ceiling: (9 - 7) / 4
            (4, 1.0, True, "ON_TRACK"),
        ],
    ),
    (
        "INCREASE",
        "MILESTONE",
        0,
        1,
        [
            (0, 0.0, False, "OFF_TRACK"),
            (1, 1.0, True, "ON_TRACK"),
        ],
    ),
]


@pytest.mark.parametrize(
    ("direction", "metric", "start", "target", "steps"),
    DIRECTIONS,
    ids=[f"{d[0]}-{d[1]}-{d[2]}-{d[3]}" for d in DIRECTIONS],
)
async def test_key_result_figures_after_each_check_in(
    api: Api,
    direction: str,
    metric: str,
    start: float,
    target: float,
    steps: list[tuple[float, float, bool, str]],
) -> None:
    _, _, objective = await half_way(api)
    kr = await factories.key_result(
        api, objective, "Hold the number", start, target, direction=direction, metric=metric
    )
    for value, progress, achieved, health in steps:
        await check_in(api, kr, value)
        assert await node(api, kr, KR) == approx(figures(progress, achieved, health)), value


async def test_a_threshold_already_held_at_baseline_is_achieved_before_any_check_in(
    api: Api,
) -> None:
    _, _, objective = await half_way(api)
    kr = await factories.key_result(api, objective, "Keep churn", 3, 5, direction="AT_MOST")
    assert await node(api, kr, KR) == approx(figures(1.0, True, "ON_TRACK"))
    plain = await factories.key_result(api, objective, "Raise activation", 10, 20)
    assert await node(api, plain, KR) == approx(figures(0.0, False, "OFF_TRACK"))


async def test_impact_coverage_is_planned_impact_over_the_remaining_gap(api: Api) -> None:
    """The product guide's onboarding example: completion 68% -> 85% with bets of +8, +4
    and +5 points; time to first value 24 h -> 0.25 h with bets of -6 h and -2 h."""
    team, _, objective = await half_way(api)
    up = await factories.key_result(api, objective, "Raise completion", 68, 85)
    down = await factories.key_result(
        api, objective, "Cut time to first value", 24, 0.25, direction="DECREASE"
    )
    coverage = "... on KeyResult { impactCoverage }"
    assert await node(api, up, coverage) == {"impactCoverage": None}  # no initiative

    tour = await factories.initiative(api, team, "Product tour", status="IN_PROGRESS")
    checklist = await factories.initiative(api, team, "Setup checklist", status="PLANNED")
    emails = await factories.initiative(api, team, "Nudge emails", status="PLANNED")
    await link_initiative(api, tour, up, 8)
    assert await node(api, up, coverage) == approx({"impactCoverage": 8 / 17})  # 85 - 68
    await link_initiative(api, checklist, up, 4)
    await link_initiative(api, emails, up, 5)
    assert await node(api, up, coverage) == approx({"impactCoverage": 1.0})  # 17 / 17

    # The guide writes a falling metric's bets as falls: both count toward the target.
    templates = await factories.initiative(api, team, "Templates", status="IN_PROGRESS")
    import_ = await factories.initiative(api, team, "One-click import", status="PLANNED")
    await link_initiative(api, templates, down, -6)
    await link_initiative(api, import_, down, -2)
    assert await node(api, down, coverage) == approx({"impactCoverage": 8 / 23.75})
    # A bet expected to push it the wrong way counts against.
    await link_initiative(api, tour, down, 1)
    assert await node(api, down, coverage) == approx({"impactCoverage": 7 / 23.75})

    # A parked idea is not a bet: it adds nothing.
    parked = await factories.initiative(api, team, "Gamification", status="PARKED")
    await link_initiative(api, parked, up, 6)
    assert await node(api, up, coverage) == approx({"impactCoverage": 1.0})
    # Cancelling a bet takes it out; so does a proposal nobody has committed to.
    await api.ok("updateInitiative", {"id": emails, "status": "CANCELLED"})
    assert await node(api, up, coverage) == approx({"impactCoverage": 12 / 17})
    await api.ok("updateInitiative", {"id": checklist, "status": "PROPOSED"})
    assert await node(api, up, coverage) == approx({"impactCoverage": 8 / 17})
    # Shipped: its effect is in the current value now, not counted again against the gap.
    await api.ok("updateInitiative", {"id": tour, "status": "DONE"})
    await check_in(api, up, 76)
    assert await node(api, up, coverage) == {"impactCoverage": None}  # no open bet left
    await api.ok("updateInitiative", {"id": checklist, "status": "IN_PROGRESS"})
    assert await node(api, up, coverage) == approx({"impactCoverage": 4 / 9})  # 85 - 76
    await check_in(api, up, 85)
    assert await node(api, up, coverage) == {"impactCoverage": None}  # no gap left
    await check_in(api, down, 0.2)
    assert await node(api, down, coverage) == {"impactCoverage": None}  # past target


async def test_history_is_the_check_in_series_oldest_first(api: Api) -> None:
    _, _, objective = await half_way(api)
    kr = await factories.key_result(api, objective, "Raise completion", 68, 85)
    await check_in(api, kr, 72, checkedAt=at(-14), health="AT_RISK", confidence=0.5)
    await check_in(api, kr, 70, checkedAt=at(-21), confidence=0.4)  # backdated
    await check_in(api, kr, 75, checkedAt=at(-7), health="ON_TRACK", confidence=0.8)
    found = await node(
        api,
        kr,
        "... on KeyResult { currentValue"
        " history { edges { node { checkedAt value health confidence } } } }",
    )
    assert found["currentValue"] == 75.0  # the latest by time, not by recording order
    assert [edge["node"] for edge in found["history"]["edges"]] == [
        {"checkedAt": at(-21), "value": 70.0, "health": None, "confidence": 0.4},
        {"checkedAt": at(-14), "value": 72.0, "health": "AT_RISK", "confidence": 0.5},
        {"checkedAt": at(-7), "value": 75.0, "health": "ON_TRACK", "confidence": 0.8},
    ]
    fresh = await factories.key_result(api, objective, "Raise activation", 1, 2)
    assert await node(api, fresh, "... on KeyResult { history { totalCount } }") == {
        "history": {"totalCount": 0}
    }


async def test_health_named_by_a_check_in_wins_until_one_names_none(
    api: Api, engine: AsyncEngine
) -> None:
    _, _, objective = await half_way(api)
    kr = await factories.key_result(api, objective, "Raise completion", 10, 20)
    health = "... on KeyResult { health }"

    # Created half way through the cycle at its baseline: 0 against 0.5, off track.
    await check_in(api, kr, 14)  # 0.4 against 0.5: on track
    await check_in(api, kr, 12)  # 0.2: gap 0.3, off track
    await check_in(api, kr, 12.5, health="AT_RISK")  # the owner knows better
    assert await node(api, kr, health) == {"health": "AT_RISK"}  # derived would say OFF_TRACK
    await check_in(api, kr, 12.5, health="OFF_TRACK")
    await check_in(api, kr, 12.5)  # names none: derived again (0.25, gap 0.25)
    assert await node(api, kr, health) == {"health": "AT_RISK"}
    await check_in(api, kr, 20)
    await check_in(api, kr, 22)  # still achieved: no second event
    await check_in(api, kr, 15)  # 0.5: on track, no longer achieved
    await check_in(api, kr, 20)  # achieved again

    subject = uuid_of(kr)
    changed = [
        e["data"]["changes"]["health"]
        for e in await events(engine, api.organization_id, "key_result.health_changed")
        if e["subject_id"] == subject
    ]
    assert changed == [
        {"from": "OFF_TRACK", "to": "ON_TRACK"},
        {"from": "ON_TRACK", "to": "OFF_TRACK"},
        {"from": "OFF_TRACK", "to": "AT_RISK"},
        {"from": "AT_RISK", "to": "OFF_TRACK"},
        {"from": "OFF_TRACK", "to": "AT_RISK"},
        {"from": "AT_RISK", "to": "ON_TRACK"},
    ]
    achieved = await events(engine, api.organization_id, "key_result.achieved")
    assert [(e["subject_id"], e["data"]["object"]["currentValue"]) for e in achieved] == [
        (subject, 20.0),
        (subject, 20.0),
    ]


async def test_objective_progress_and_score_are_weighted_means(api: Api) -> None:
    _, _, objective = await half_way(api)
    assert await node(api, objective, OBJECTIVE) == {
        "progress": None,  # nothing to measure yet
        "score": None,
        "expectedProgress": 0.5,
        "health": "ON_TRACK",  # as stored: nothing to derive from
    }
    heavy = await factories.key_result(api, objective, "Raise activation", 10, 20, weight=3)
    light = await factories.key_result(api, objective, "Keep churn", 9, 5, direction="AT_MOST")
    ignored = await factories.key_result(api, objective, "Track signups", 0, 100, weight=0)
    await check_in(api, heavy, 14)  # 0.4
    await check_in(api, light, 4)  # 1.0
    await check_in(api, ignored, 0)  # 0, but weight 0 does not count
    # (3 * 0.4 + 1 * 1.0) / 4 = 0.55
    assert await node(api, objective, OBJECTIVE) == approx(
        {"progress": 0.55, "score": 0.55, "expectedProgress": 0.5, "health": "ON_TRACK"}
    )
    await api.ok("updateKeyResult", {"id": light, "weight": 1.8})
    # (3 * 0.4 + 1.8 * 1.0) / 4.8 = 0.625
    found = await node(api, objective, "... on Objective { progress }")
    assert found == approx({"progress": 0.625})


async def test_progress_modes_roll_up_contributing_objectives(api: Api) -> None:
    team, cycle_id, parent = await half_way(api)
    parent_kr = await factories.key_result(api, parent, "Raise paying accounts", 0, 10)
    await check_in(api, parent_kr, 2)  # 0.2
    direct = await factories.objective(api, team, cycle_id, "Make trials convincing")
    direct_kr = await factories.key_result(api, direct, "Raise trial activation", 0, 10)
    await check_in(api, direct_kr, 4)  # 0.4
    via_kr = await factories.objective(api, team, cycle_id, "Win back churned users")
    via_kr_kr = await factories.key_result(api, via_kr, "Win back accounts", 0, 10)
    await check_in(api, via_kr_kr, 10)  # 1.0
    await contributes(api, direct, objective=parent)
    await contributes(api, via_kr, key_result=parent_kr)
    # Contributing twice (to the objective and to its key result) still counts once.
    await contributes(api, via_kr, objective=parent)

    async def rolled(mode: str) -> Any:
        await api.ok("updateObjective", {"id": parent, "progressMode": mode})
        return await node(api, parent, "... on Objective { progressMode progress score health }")

    # KEY_RESULTS: its own KR, 0.2 (gap 0.3: off track); score never rolls up.
    assert await rolled("KEY_RESULTS") == approx(
        {"progressMode": "KEY_RESULTS", "progress": 0.2, "score": 0.2, "health": "OFF_TRACK"}
    )
    # ALIGNED: mean of the children, (0.4 + 1.0) / 2 = 0.7.
    assert await rolled("ALIGNED") == approx(
        {"progressMode": "ALIGNED", "progress": 0.7, "score": 0.2, "health": "ON_TRACK"}
    )
    # BOTH: one pool, each child weighing like a KR of weight 1: (0.2 + 0.4 + 1.0) / 3.
    assert await rolled("BOTH") == approx(
        {"progressMode": "BOTH", "progress": 1.6 / 3, "score": 0.2, "health": "ON_TRACK"}
    )

    # Roll-ups nest: `direct` rolls up a grandchild at 0 with its own 0.4 -> 0.2;
    # the parent (ALIGNED) then has (0.2 + 1.0) / 2 = 0.6.
    await api.ok("updateObjective", {"id": direct, "progressMode": "BOTH"})
    grandchild = await factories.objective(api, team, cycle_id, "Explain pricing clearly")
    await factories.key_result(api, grandchild, "Raise pricing page clarity score", 0, 10)
    await contributes(api, grandchild, key_result=direct_kr)
    assert await rolled("ALIGNED") == approx(
        {"progressMode": "ALIGNED", "progress": 0.6, "score": 0.2, "health": "ON_TRACK"}
    )
    assert await node(api, direct, "... on Objective { progress }") == approx({"progress": 0.2})
    # ALIGNED with no contributor has nothing to measure.
    assert await node(api, grandchild, "... on Objective { progress }") == {"progress": 0.0}
    await api.ok("updateObjective", {"id": grandchild, "progressMode": "ALIGNED"})
    assert await node(api, grandchild, "... on Objective { progress }") == {"progress": None}


async def test_objective_health_is_derived_until_set_by_hand(api: Api, engine: AsyncEngine) -> None:
    _, _, objective = await half_way(api)
    kr = await factories.key_result(api, objective, "Raise activation", 10, 20)  # 0: off
    other = await factories.key_result(api, objective, "Raise retention", 10, 20)
    await check_in(api, other, 20)  # (0 + 1) / 2 = 0.5: on track
    await check_in(api, kr, 10)  # unchanged
    await check_in(api, kr, 13, health="ON_TRACK")  # KR health by hand does not decide
    await api.ok("updateKeyResult", {"id": other, "weight": 0.25})
    # (0.3 + 0.25) / 1.25 = 0.44 -> on track; a check-in at 11 -> (0.1 + 0.25) / 1.25 = 0.28
    await check_in(api, kr, 11)  # gap 0.22: at risk
    await check_in(api, kr, 10)  # (0 + 0.25) / 1.25 = 0.2, gap 0.3: off track
    assert await node(api, objective, "... on Objective { health }") == {"health": "OFF_TRACK"}
    await check_in(api, kr, 18)  # (0.8 + 0.25) / 1.25 = 0.84: on track

    await api.ok("updateObjective", {"id": objective, "health": "AT_RISK"})  # by hand
    await check_in(api, kr, 20)  # derived would stay on track; the hand-set health stays
    await check_in(api, kr, 10)  # derived would be off track; still no event
    assert await node(api, objective, "... on Objective { health }") == {"health": "AT_RISK"}

    changed = [
        e["data"]["changes"]["health"]
        for e in await events(engine, api.organization_id, "objective.health_changed")
        if e["subject_id"] == uuid_of(objective)
    ]
    assert changed == [
        {"from": "ON_TRACK", "to": "OFF_TRACK"},  # a first key result, not moved yet
        {"from": "OFF_TRACK", "to": "ON_TRACK"},
        {"from": "ON_TRACK", "to": "AT_RISK"},
        {"from": "AT_RISK", "to": "OFF_TRACK"},
        {"from": "OFF_TRACK", "to": "ON_TRACK"},
        {"from": "ON_TRACK", "to": "AT_RISK"},  # set by hand
    ]
