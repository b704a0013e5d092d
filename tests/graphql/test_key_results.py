from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests import factories
from tests.conftest import Api
from tests.graphql.support import bad_ids, close_cycle, node, refused

FIELDS = (
    "title metric unit direction startValue targetValue currentValue weight confidence"
    " indicator version objective { id } team { id }"
)


async def objective(api: Api) -> tuple[str, str]:
    team = await factories.team(api)
    cycle = await factories.cycle(api)
    return team, await factories.objective(api, team, cycle)


def kr_input(objective_id: str, **fields: Any) -> dict[str, Any]:
    return {"objectiveId": objective_id, "title": "Cut time to value", "targetValue": 20} | fields


async def test_create_key_result_reads_back_every_field(api: Api) -> None:
    _, objective_id = await objective(api)
    platform = await factories.team(api, "Platform")
    payload = await api.ok(
        "createKeyResult",
        kr_input(
            objective_id,
            title=" Cut time to first value ",
            metric="CURRENCY",
            unit="h",
            direction="DECREASE",
            startValue=24,
            targetValue=0.25,
            teamId=platform,
            weight=2.5,
            confidence=0.7,
            indicator="LEADING",
        ),
        f"keyResult {{ id {FIELDS} }}",
    )
    expected = {
        "title": "Cut time to first value",
        "metric": "CURRENCY",
        "unit": "h",
        "direction": "DECREASE",
        "startValue": 24.0,
        "targetValue": 0.25,
        "currentValue": None,
        "weight": 2.5,
        "confidence": 0.7,
        "indicator": "LEADING",
        "version": 1,
        "objective": {"id": objective_id},
        "team": {"id": platform},
    }
    key_result = payload["keyResult"]
    assert key_result == {"id": key_result["id"], **expected}
    assert await node(api, key_result["id"], f"... on KeyResult {{ {FIELDS} }}") == expected
    found = await node(api, objective_id, "... on Objective { keyResults { id } }")
    assert found == {"keyResults": [{"id": key_result["id"]}]}


async def test_create_key_result_defaults_to_the_objective_team(api: Api) -> None:
    team, objective_id = await objective(api)
    payload = await api.ok(
        "createKeyResult",
        kr_input(objective_id),
        "keyResult { metric direction startValue weight confidence indicator team { id } }",
    )
    assert payload["keyResult"] == {
        "metric": "NUMBER",
        "direction": "INCREASE",
        "startValue": None,
        "weight": 1.0,
        "confidence": None,
        "indicator": None,
        "team": {"id": team},
    }


@pytest.mark.parametrize(
    ("direction", "start", "target"),
    [
        ("INCREASE", 68, 85),
        ("DECREASE", 24, 0.25),
        ("AT_LEAST", 99.99, 99.99),
        ("AT_MOST", 5, 5),
        ("AT_LEAST", 40, 50),
        ("AT_MOST", 8, 5),
    ],
)
async def test_targets_accepted_for_each_direction(
    api: Api, direction: str, start: float, target: float
) -> None:
    _, objective_id = await objective(api)
    input_ = kr_input(objective_id, direction=direction, startValue=start, targetValue=target)
    payload = await api.ok(
        "createKeyResult", input_, "keyResult { direction startValue targetValue }"
    )
    assert payload["keyResult"] == {
        "direction": direction,
        "startValue": start,
        "targetValue": target,
    }


@pytest.mark.parametrize(
    ("direction", "start", "target"),
    [("INCREASE", 10, 10), ("INCREASE", 10, 5), ("DECREASE", 10, 10), ("DECREASE", 10, 20)],
)
async def test_target_must_lie_beyond_start_in_the_direction(
    api: Api, engine: AsyncEngine, direction: str, start: float, target: float
) -> None:
    _, objective_id = await objective(api)
    input_ = kr_input(objective_id, direction=direction, startValue=start, targetValue=target)
    await refused(
        api, engine, "createKeyResult", input_, "TARGET_NOT_BEYOND_START", ["targetValue"]
    )


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"title": ""}, "REQUIRED", ["title"]),
        ({"title": "   "}, "REQUIRED", ["title"]),
        ({"title": "x" * 201}, "TOO_LONG", ["title"]),
        ({"unit": "x" * 41}, "TOO_LONG", ["unit"]),
        ({"weight": -1}, "OUT_OF_RANGE", ["weight"]),
        ({"weight": 100.5}, "OUT_OF_RANGE", ["weight"]),
        ({"confidence": -0.1}, "OUT_OF_RANGE", ["confidence"]),
        ({"confidence": 1.01}, "OUT_OF_RANGE", ["confidence"]),
        ({"teamId": "not-an-id"}, "INVALID_ID", ["teamId"]),
    ],
)
async def test_create_key_result_refuses_bad_input(
    api: Api, engine: AsyncEngine, fields: dict[str, Any], code: str, field: list[str]
) -> None:
    _, objective_id = await objective(api)
    await refused(api, engine, "createKeyResult", kr_input(objective_id, **fields), code, field)


@pytest.mark.parametrize(("weight", "confidence"), [(0, 0), (100, 1)])
async def test_weight_and_confidence_bounds_are_inclusive(
    api: Api, weight: float, confidence: float
) -> None:
    _, objective_id = await objective(api)
    input_ = kr_input(objective_id, weight=weight, confidence=confidence)
    payload = await api.ok("createKeyResult", input_, "keyResult { weight confidence }")
    assert payload["keyResult"] == {"weight": weight, "confidence": confidence}


@pytest.mark.parametrize(("bad_id", "code"), bad_ids("Objective", "KeyResult"))
async def test_create_key_result_refuses_bad_objective_ids(
    api: Api, engine: AsyncEngine, bad_id: str, code: str
) -> None:
    await objective(api)
    await refused(api, engine, "createKeyResult", kr_input(bad_id), code, ["objectiveId"])


async def test_key_results_cannot_change_in_a_closed_cycle(api: Api, engine: AsyncEngine) -> None:
    ids = await factories.okr(api)
    await close_cycle(api, ids["cycle"])
    await refused(
        api,
        engine,
        "createKeyResult",
        kr_input(ids["objective"]),
        "ALREADY_CLOSED",
        ["objectiveId"],
    )
    await refused(
        api,
        engine,
        "updateKeyResult",
        {"id": ids["key_result"], "title": "New"},
        "ALREADY_CLOSED",
        ["id"],
    )
    await refused(
        api, engine, "deleteKeyResult", {"id": ids["key_result"]}, "ALREADY_CLOSED", ["id"]
    )


async def test_update_key_result_changes_fields(api: Api) -> None:
    ids = await factories.okr(api)
    team = await factories.team(api, "Sales")
    payload = await api.ok(
        "updateKeyResult",
        {
            "id": ids["key_result"],
            "title": "Raise NPS",
            "metric": "PERCENTAGE",
            "unit": "%",
            "direction": "AT_LEAST",
            "startValue": 40,
            "targetValue": 50,
            "teamId": team,
            "weight": 3,
            "confidence": 0.5,
            "indicator": "LAGGING",
            "health": "AT_RISK",
        },
        f"keyResult {{ {FIELDS} health }}",
    )
    assert payload["keyResult"] == {
        "title": "Raise NPS",
        "metric": "PERCENTAGE",
        "unit": "%",
        "direction": "AT_LEAST",
        "startValue": 40.0,
        "targetValue": 50.0,
        "currentValue": None,
        "weight": 3.0,
        "confidence": 0.5,
        "indicator": "LAGGING",
        "health": "AT_RISK",
        "version": 2,
        "objective": {"id": ids["objective"]},
        "team": {"id": team},
    }
    cleared = await api.ok(
        "updateKeyResult",
        {"id": ids["key_result"], "confidence": None, "unit": None},
        "keyResult { confidence unit version }",
    )
    assert cleared["keyResult"] == {"confidence": None, "unit": None, "version": 3}


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"title": None}, "REQUIRED", ["title"]),
        ({"targetValue": None}, "REQUIRED", ["targetValue"]),
        ({"metric": None}, "REQUIRED", ["metric"]),
        ({"direction": None}, "REQUIRED", ["direction"]),
        ({"weight": None}, "REQUIRED", ["weight"]),
        ({"health": None}, "REQUIRED", ["health"]),
        ({"teamId": None}, "REQUIRED", ["teamId"]),
        ({"title": "x" * 201}, "TOO_LONG", ["title"]),
        ({"targetValue": 10}, "TARGET_NOT_BEYOND_START", ["targetValue"]),
        ({"startValue": 25}, "TARGET_NOT_BEYOND_START", ["targetValue"]),
        ({"direction": "DECREASE"}, "TARGET_NOT_BEYOND_START", ["targetValue"]),
        ({"weight": 101}, "OUT_OF_RANGE", ["weight"]),
        ({"confidence": 2}, "OUT_OF_RANGE", ["confidence"]),
        ({"teamId": "VGVhbTpub3Bl"}, "INVALID_ID", ["teamId"]),
    ],
)
async def test_update_key_result_refuses_bad_changes(
    api: Api, engine: AsyncEngine, changes: dict[str, Any], code: str, field: list[str]
) -> None:
    ids = await factories.okr(api)  # start 10, target 20, INCREASE
    await refused(api, engine, "updateKeyResult", {"id": ids["key_result"], **changes}, code, field)
    found = await node(
        api, ids["key_result"], "... on KeyResult { startValue targetValue version }"
    )
    assert found == {"startValue": 10.0, "targetValue": 20.0, "version": 1}


@pytest.mark.parametrize(("bad_id", "code"), bad_ids("KeyResult", "Objective"))
async def test_update_and_delete_key_result_refuse_bad_ids(
    api: Api, engine: AsyncEngine, bad_id: str, code: str
) -> None:
    await factories.okr(api)
    await refused(api, engine, "updateKeyResult", {"id": bad_id, "title": "T"}, code, ["id"])
    await refused(api, engine, "deleteKeyResult", {"id": bad_id}, code, ["id"])


async def test_delete_key_result_removes_it_with_its_check_ins(api: Api) -> None:
    ids = await factories.okr(api)
    await api.ok("recordCheckIn", {"keyResultId": ids["key_result"], "value": 12}, "checkIn { id }")
    payload = await api.mutate(
        "deleteKeyResult", {"id": ids["key_result"]}, "keyResult { id title } deletedKeyResultId"
    )
    assert payload == {
        "keyResult": {"id": ids["key_result"], "title": "Raise activation"},
        "deletedKeyResultId": ids["key_result"],
        "userErrors": [],
    }
    assert await node(api, ids["key_result"], "id") is None
    assert await node(api, ids["objective"], "... on Objective { keyResults { id } }") == {
        "keyResults": []
    }


async def test_key_results_filter(api: Api) -> None:
    ids = await factories.okr(api)
    sales = await factories.team(api, "Sales")
    shared = await factories.key_result(api, ids["objective"], "Shared", teamId=sales)
    await api.ok("updateKeyResult", {"id": shared, "health": "OFF_TRACK"})

    async def matching(filter_: dict[str, Any]) -> list[str]:
        data = await api.query(
            "query($f: KeyResultFilter) { keyResults(filter: $f) { edges { node { id } } } }",
            {"f": filter_},
        )
        return [edge["node"]["id"] for edge in data["keyResults"]["edges"]]

    assert await matching({"objectiveId": ids["objective"]}) == [ids["key_result"], shared]
    assert await matching({"teamId": sales}) == [shared]
    # The cycle is over and the key result never moved: off track, as its field says.
    assert await matching({"health": "ON_TRACK"}) == []
    assert await matching({"health": "OFF_TRACK"}) == [ids["key_result"], shared]
    await api.ok("recordCheckIn", {"keyResultId": ids["key_result"], "value": 20}, "checkIn { id }")
    assert await matching({"health": "ON_TRACK"}) == [ids["key_result"]]
    assert await matching({"teamId": ids["team"], "health": "OFF_TRACK"}) == []


async def test_a_later_mutation_in_one_document_reads_what_the_earlier_wrote(api: Api) -> None:
    ids = await factories.okr(api)
    fields = "keyResult { objective { keyResults { title } } } userErrors { code }"
    data = await api.query(
        "mutation($a: CreateKeyResultInput!, $b: CreateKeyResultInput!) {"
        f" a: createKeyResult(input: $a) {{ {fields} }}"
        f" b: createKeyResult(input: $b) {{ {fields} }} }}",
        {
            "a": {"objectiveId": ids["objective"], "title": "Second", "targetValue": 5},
            "b": {"objectiveId": ids["objective"], "title": "Third", "targetValue": 5},
        },
    )
    titles = [kr["title"] for kr in data["b"]["keyResult"]["objective"]["keyResults"]]
    assert titles == ["Raise activation", "Second", "Third"]
