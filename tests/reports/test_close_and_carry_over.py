"""closeCycle and carryOverObjectives through the API."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tests import factories
from tests.conftest import Api
from tests.reports.support import (
    check_in,
    cycle,
    cycle_report,
    done,
    events,
    node,
    refused_codes,
    uuid_of,
)

CLOSE = "cycle { id state }"
CARRY = "objectives { id } skippedObjectiveIds"
COPY = (
    "... on Objective { title kind state progressMode cycle { name } team { name }"
    " origin { id } progress checks { code }"
    " keyResults { title direction metric unit startValue targetValue currentValue weight"
    " team { name } progress history { totalCount } } }"
)


async def test_close_cycle_freezes_closes_and_keeps_the_retrospective(
    api: Api, engine: AsyncEngine
) -> None:
    team = await factories.team(api, "Growth squad")
    quarter = await cycle(api, "Quarter", -91, -1)
    active = await factories.objective(api, team, quarter, "Turn trials into customers")
    draft = await factories.objective(api, team, quarter, "Explain pricing clearly")
    await api.ok("updateObjective", {"id": active, "state": "ACTIVE"})
    kr = await factories.key_result(api, active, "Increase trial conversion", 10, 20)
    await check_in(api, kr, 16.5)  # 0.65
    await api.ok("updateCycle", {"id": quarter, "state": "ACTIVE"})
    await api.ok("updateCycle", {"id": quarter, "state": "REVIEW"})

    closed = await done(
        api,
        "closeCycle",
        {"cycleId": quarter, "retrospective": {"lessons": "Fewer, sharper bets"}},
        CLOSE,
    )
    assert closed["cycle"] == {"id": quarter, "state": "CLOSED"}
    report = await cycle_report(api, quarter)
    assert report["retrospective"] == {
        "accelerators": None,
        "blockers": None,
        "lessons": "Fewer, sharper bets",
    }
    assert report["averageScore"] == 0.65
    states = await node(
        api, quarter, "... on Cycle { state objectives { edges { node { title state } } } }"
    )
    assert states["state"] == "CLOSED"
    assert [edge["node"] for edge in states["objectives"]["edges"]] == [
        {"title": "Turn trials into customers", "state": "CLOSED"},  # was ACTIVE
        {"title": "Explain pricing clearly", "state": "DRAFT"},  # never started
    ]
    assert await node(api, kr, "... on KeyResult { score progress }") == {
        "score": 0.65,
        "progress": 0.65,
    }
    cycle_events = await events(engine, api.organization_id, "cycle.state_changed")
    assert [e["data"]["changes"]["state"] for e in cycle_events] == [
        {"from": "PLANNING", "to": "ACTIVE"},
        {"from": "ACTIVE", "to": "REVIEW"},
        {"from": "REVIEW", "to": "CLOSED"},
    ]
    objective_events = await events(engine, api.organization_id, "objective.state_changed")
    assert [(e["subject_id"], e["data"]["changes"]["state"]) for e in objective_events] == [
        (uuid_of(active), {"from": "DRAFT", "to": "ACTIVE"}),
        (uuid_of(active), {"from": "ACTIVE", "to": "CLOSED"}),
    ]
    assert uuid_of(draft) not in {e["subject_id"] for e in objective_events}

    # Closing twice is a user error, not a crash, and changes nothing.
    again = await refused_codes(
        api, "closeCycle", {"cycleId": quarter, "retrospective": {"lessons": "Other"}}, CLOSE
    )
    assert again == [("cycleId", "ALREADY_CLOSED")]
    assert len(await events(engine, api.organization_id, "cycle.state_changed")) == 3
    assert (await cycle_report(api, quarter))["retrospective"]["lessons"] == "Fewer, sharper bets"
    # A closed cycle's OKRs are final.
    for name, input_ in (
        ("recordCheckIn", {"keyResultId": kr, "value": 20}),
        ("updateKeyResult", {"id": kr, "targetValue": 17}),
        ("createKeyResult", {"objectiveId": active, "title": "Raise NPS", "targetValue": 5}),
        ("createObjective", {"title": "Later", "teamId": team, "cycleId": quarter}),
        ("updateCycle", {"id": quarter, "state": "ACTIVE"}),
    ):
        errors = await api.user_errors(name, input_)
        assert [e["code"] for e in errors] == ["ALREADY_CLOSED"], name
    assert await node(api, kr, "... on KeyResult { score }") == {"score": 0.65}


async def test_close_cycle_without_retrospective_and_refusals(
    api: Api, other_api: Api, engine: AsyncEngine
) -> None:
    quarter = await cycle(api, "Quarter", -91, -1)
    foreign = await cycle(other_api, "Their quarter", -91, -1)
    unknown = "Q3ljbGU6MDE5MzAwMDAtMDAwMC03MDAwLTgwMDAtMDAwMDAwMDAwMDAw"  # Cycle:<no row>
    for cycle_id in (unknown, foreign):
        assert await refused_codes(api, "closeCycle", {"cycleId": cycle_id}, CLOSE) == [
            ("cycleId", "NOT_FOUND")
        ]
    assert await refused_codes(api, "closeCycle", {"cycleId": "nonsense"}, CLOSE) == [
        ("cycleId", "INVALID_ID")
    ]
    too_long = {"cycleId": quarter, "retrospective": {"blockers": "x" * 100_001}}
    assert [code for _, code in await refused_codes(api, "closeCycle", too_long, CLOSE)] == [
        "TOO_LONG"
    ]
    assert (await cycle_report(other_api, foreign))["cycle"]["state"] == "PLANNING"

    await done(api, "closeCycle", {"cycleId": quarter}, CLOSE)
    report = await cycle_report(api, quarter)
    # No notes were written: no retrospective, and an empty cycle has no figures.
    assert report["retrospective"] is None
    assert report["cycle"]["state"] == "CLOSED"
    assert (report["keyResultCount"], report["hitRate"], report["averageScore"]) == (0, None, None)
    assert (report["checkInFreshness"], report["alignmentScore"], report["committedShare"]) == (
        None,
        None,
        None,
    )


async def carry_over_world(api: Api) -> dict[str, str]:
    ids: dict[str, str] = {}
    ids["team"] = await factories.team(api, "Growth squad")
    ids["platform"] = await factories.team(api, "Platform")
    ids["q1"] = await cycle(api, "Q1", -120, -30)
    ids["q2"] = await cycle(api, "Q2", -29, 60)
    q1 = ids["q1"]
    ids["open"] = await factories.objective(
        api, ids["team"], q1, "Turn trials into customers", kind="ASPIRATIONAL"
    )
    ids["up"] = await factories.key_result(
        api, ids["open"], "Increase trial conversion", 10, 20, unit="%", weight=2
    )
    ids["done_kr"] = await factories.key_result(api, ids["open"], "Raise activation", 40, 50)
    ids["down"] = await factories.key_result(
        api, ids["open"], "Cut time to value", 24, 4, direction="DECREASE",
        teamId=ids["platform"], unit="h",
    )  # fmt: skip
    await check_in(api, ids["up"], 12)
    await check_in(api, ids["up"], 15)
    await check_in(api, ids["done_kr"], 52)
    ids["finished"] = await factories.objective(api, ids["team"], q1, "Make billing painless")
    ids["finished_kr"] = await factories.key_result(
        api, ids["finished"], "Cut refunds", 9, 5, direction="DECREASE"
    )
    await check_in(api, ids["finished_kr"], 5)
    ids["cancelled"] = await factories.objective(api, ids["team"], q1, "Abandoned idea")
    await factories.key_result(api, ids["cancelled"], "Raise something", 1, 2)
    await api.ok("updateObjective", {"id": ids["cancelled"], "state": "CANCELLED"})
    ids["empty"] = await factories.objective(api, ids["team"], q1, "Not yet measured")
    return ids


async def test_carry_over_copies_unfinished_objectives_without_history(
    api: Api, engine: AsyncEngine
) -> None:
    ids = await carry_over_world(api)
    await done(api, "closeCycle", {"cycleId": ids["q1"]}, CLOSE)
    payload = await done(
        api, "carryOverObjectives", {"fromCycleId": ids["q1"], "toCycleId": ids["q2"]}, CARRY
    )
    assert payload["skippedObjectiveIds"] == [ids["finished"], ids["cancelled"], ids["empty"]]
    [copy] = payload["objectives"]
    assert copy["id"] != ids["open"]
    found: dict[str, Any] = await node(api, copy["id"], COPY)
    assert found == {
        "title": "Turn trials into customers",
        "kind": "ASPIRATIONAL",
        "state": "DRAFT",
        "progressMode": "KEY_RESULTS",
        "cycle": {"name": "Q2"},
        "team": {"name": "Growth squad"},
        "origin": {"id": ids["open"]},
        "progress": 0.0,  # everything starts from where Q1 ended
        "checks": [],
        "keyResults": [
            {
                "title": "Increase trial conversion",
                "direction": "INCREASE",
                "metric": "NUMBER",
                "unit": "%",
                "startValue": 15.0,  # Q1's last value is the new baseline
                "targetValue": 20.0,
                "currentValue": None,
                "weight": 2.0,
                "team": {"name": "Growth squad"},
                "progress": 0.0,
                "history": {"totalCount": 0},
            },
            # "Raise activation" was achieved: it stays behind.
            {
                "title": "Cut time to value",
                "direction": "DECREASE",
                "metric": "NUMBER",
                "unit": "h",
                "startValue": 24.0,  # never checked in: the old baseline
                "targetValue": 4.0,
                "currentValue": None,
                "weight": 1.0,
                "team": {"name": "Platform"},  # a shared KR stays with its owner
                "progress": 0.0,
                "history": {"totalCount": 0},
            },
        ],
    }
    # The source is untouched and keeps its history and frozen scores.
    source = await node(
        api,
        ids["open"],
        "... on Objective { origin { id }"
        " keyResults { score history { edges { node { value } } } } }",
    )
    assert source["origin"] is None
    assert [
        (kr["score"], [edge["node"]["value"] for edge in kr["history"]["edges"]])
        for kr in source["keyResults"]
    ] == [(0.5, [12.0, 15.0]), (1.0, [52.0]), (0.0, [])]
    created = await events(engine, api.organization_id, "objective.created")
    assert uuid_of(copy["id"]) in {e["subject_id"] for e in created}

    # Asking for chosen objectives: only those, finished ones reported as skipped.
    chosen = await done(
        api,
        "carryOverObjectives",
        {"fromCycleId": ids["q1"], "toCycleId": ids["q2"], "objectiveIds": [ids["finished"]]},
        CARRY,
    )
    assert chosen == {"objectives": [], "skippedObjectiveIds": [ids["finished"]], "userErrors": []}


async def test_carry_over_refusals(api: Api, other_api: Api, engine: AsyncEngine) -> None:
    ids = await carry_over_world(api)
    closed = await cycle(api, "Closed", -300, -200)
    await done(api, "closeCycle", {"cycleId": closed}, CLOSE)
    elsewhere = await cycle(api, "Q3", 61, 150)
    stranger = await factories.objective(api, ids["team"], elsewhere, "Somewhere else")
    foreign = await cycle(other_api, "Their Q2", -29, 60)

    def carry(to: str, **more: Any) -> dict[str, Any]:
        return {"fromCycleId": ids["q1"], "toCycleId": to, **more}

    cases = [
        (carry(closed), [("toCycleId", "ALREADY_CLOSED")]),
        (carry(ids["q1"]), [("toCycleId", "SELF_REFERENCE")]),
        (carry(ids["q2"], objectiveIds=[ids["open"], stranger]), [("objectiveIds", "NOT_FOUND")]),
        (carry(foreign), [("toCycleId", "NOT_FOUND")]),
        ({"fromCycleId": foreign, "toCycleId": ids["q2"]}, [("fromCycleId", "NOT_FOUND")]),
    ]
    for input_, expected in cases:
        assert await refused_codes(api, "carryOverObjectives", input_, CARRY) == expected, input_
    q2 = await node(api, ids["q2"], "... on Cycle { objectives { totalCount } }")
    assert q2 == {"objectives": {"totalCount": 0}}  # nothing was copied by a refused call
