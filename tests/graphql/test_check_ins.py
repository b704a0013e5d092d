import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests import factories
from tests.conftest import Api
from tests.graphql.support import bad_ids, close_cycle, events, node, refused, uuid_of

CHECK_IN = "value health confidence note blockers supportNeeded author checkedAt"
KEY_RESULT = "currentValue health confidence version"


async def check_in(api: Api, key_result: str, value: float, **fields: Any) -> dict[str, Any]:
    return await api.ok(
        "recordCheckIn",
        {"keyResultId": key_result, "value": value, **fields},
        f"checkIn {{ id {CHECK_IN} keyResult {{ id }} }} keyResult {{ {KEY_RESULT} }}",
    )


async def history(api: Api, key_result: str) -> list[float]:
    found = await node(
        api, key_result, "... on KeyResult { checkIns { edges { node { value } } } }"
    )
    return [edge["node"]["value"] for edge in found["checkIns"]["edges"]]


async def test_record_check_in_appends_history_and_moves_the_key_result(api: Api) -> None:
    ids = await factories.okr(api)
    before = datetime.now(UTC)
    payload = await check_in(
        api,
        ids["key_result"],
        14.5,
        health="AT_RISK",
        confidence=0.6,
        note="Tour shipped",
        blockers="Data pipeline late",
        supportNeeded="One analyst",
    )
    entry = payload["checkIn"]
    checked_at = datetime.fromisoformat(entry.pop("checkedAt"))
    assert before - timedelta(seconds=1) <= checked_at <= datetime.now(UTC)
    assert entry == {
        "id": entry["id"],
        "value": 14.5,
        "health": "AT_RISK",
        "confidence": 0.6,
        "note": "Tour shipped",
        "blockers": "Data pipeline late",
        "supportNeeded": "One analyst",
        "author": "admin",
        "keyResult": {"id": ids["key_result"]},
    }
    assert payload["keyResult"] == {
        "currentValue": 14.5,
        "health": "AT_RISK",
        "confidence": 0.6,
        "version": 2,
    }

    second = await check_in(api, ids["key_result"], 16, confidence=0.8)
    assert second["keyResult"] | {"health": None} == {
        "currentValue": 16.0,
        "health": None,
        "confidence": 0.8,
        "version": 3,
    }  # without a health of its own, the check-in leaves health to be derived
    assert await history(api, ids["key_result"]) == [16.0, 14.5]  # newest first
    found = await node(
        api, ids["key_result"], "... on KeyResult { currentValue latestCheckIn { id } }"
    )
    assert found == {"currentValue": 16.0, "latestCheckIn": {"id": second["checkIn"]["id"]}}


async def test_a_backdated_check_in_joins_history_without_moving_the_value(api: Api) -> None:
    ids = await factories.okr(api)
    await check_in(api, ids["key_result"], 15, health="ON_TRACK", confidence=0.9)
    backdated = await check_in(
        api,
        ids["key_result"],
        11,
        health="OFF_TRACK",
        confidence=0.1,
        checkedAt="2026-02-01T09:00:00+00:00",
    )
    assert backdated["checkIn"]["checkedAt"] == "2026-02-01T09:00:00+00:00"
    assert backdated["keyResult"] == {
        "currentValue": 15.0,
        "health": "ON_TRACK",
        "confidence": 0.9,
        "version": 2,
    }
    assert await history(api, ids["key_result"]) == [15.0, 11.0]
    found = await node(
        api, ids["key_result"], "... on KeyResult { currentValue latestCheckIn { value } }"
    )
    assert found == {"currentValue": 15.0, "latestCheckIn": {"value": 15.0}}


async def test_a_check_in_later_than_the_latest_moves_the_value(api: Api) -> None:
    ids = await factories.okr(api)
    await check_in(api, ids["key_result"], 12, checkedAt="2026-02-01T00:00:00Z")
    payload = await check_in(api, ids["key_result"], 13, checkedAt="2026-02-08T00:00:00Z")
    assert payload["keyResult"]["currentValue"] == 13.0
    assert await history(api, ids["key_result"]) == [13.0, 12.0]


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"confidence": -0.01}, "OUT_OF_RANGE", ["confidence"]),
        ({"confidence": 1.5}, "OUT_OF_RANGE", ["confidence"]),
        ({"note": "x" * 10_001}, "TOO_LONG", ["note"]),
        ({"blockers": "x" * 10_001}, "TOO_LONG", ["blockers"]),
        ({"supportNeeded": "x" * 10_001}, "TOO_LONG", ["supportNeeded"]),
        ({"checkedAt": "2026-02-01T09:00:00"}, "INVALID_VALUE", ["checkedAt"]),
    ],
)
async def test_record_check_in_refuses_bad_input(
    api: Api, engine: AsyncEngine, fields: dict[str, Any], code: str, field: list[str]
) -> None:
    ids = await factories.okr(api)
    input_ = {"keyResultId": ids["key_result"], "value": 12, **fields}
    await refused(api, engine, "recordCheckIn", input_, code, field)
    assert await history(api, ids["key_result"]) == []


async def test_a_check_in_cannot_be_in_the_future(api: Api, engine: AsyncEngine) -> None:
    ids = await factories.okr(api)
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    input_ = {"keyResultId": ids["key_result"], "value": 12, "checkedAt": future}
    await refused(api, engine, "recordCheckIn", input_, "INVALID_VALUE", ["checkedAt"])
    found = await node(
        api, ids["key_result"], "... on KeyResult { currentValue checkIns { edges { cursor } } }"
    )
    assert found == {"currentValue": None, "checkIns": {"edges": []}}


async def test_no_check_in_into_a_closed_cycle(api: Api, engine: AsyncEngine) -> None:
    ids = await factories.okr(api)
    await close_cycle(api, ids["cycle"])
    input_ = {"keyResultId": ids["key_result"], "value": 12}
    await refused(api, engine, "recordCheckIn", input_, "ALREADY_CLOSED", ["keyResultId"])


@pytest.mark.parametrize(("bad_id", "code"), bad_ids("KeyResult", "Objective"))
async def test_record_check_in_refuses_bad_key_result_ids(
    api: Api, engine: AsyncEngine, bad_id: str, code: str
) -> None:
    await factories.okr(api)
    input_ = {"keyResultId": bad_id, "value": 12}
    await refused(api, engine, "recordCheckIn", input_, code, ["keyResultId"])


async def test_concurrent_check_ins_all_land_with_unique_event_sequences(
    api: Api, engine: AsyncEngine
) -> None:
    ids = await factories.okr(api)  # start 10, target 20
    values = [11.0 + step for step in range(10)]
    payloads = await asyncio.gather(*(check_in(api, ids["key_result"], value) for value in values))

    assert sorted(payload["checkIn"]["value"] for payload in payloads) == values
    assert sorted(await history(api, ids["key_result"])) == values
    found = await node(api, ids["key_result"], "... on KeyResult { version currentValue }")
    assert found["version"] == 11
    latest = await node(api, ids["key_result"], "... on KeyResult { latestCheckIn { value } }")
    assert found["currentValue"] == latest["latestCheckIn"]["value"]

    subject = uuid_of(ids["key_result"])
    rows = [
        row for row in await events(engine, api.organization_id) if row["subject_id"] == subject
    ]
    assert sorted(row["sequence"] for row in rows) == list(range(1, len(rows) + 1))
    assert [row["type"] for row in rows].count("key_result.checked_in") == 10


async def test_concurrent_check_ins_under_one_objective_announce_its_health_in_turn(
    api: Api, engine: AsyncEngine
) -> None:
    """Check-ins on sibling key results, all at once, moving their objective's health back
    and forth: each announces the objective's health from the others' results (it is
    locked, its key results read afresh), so the announcements form one chain, each
    change told once, ending at the health the objective has."""
    ids = await factories.okr(api)  # a past cycle: a key result must be at target
    siblings = [ids["key_result"]] + [
        await factories.key_result(api, ids["objective"], f"Sibling {n}") for n in range(3)
    ]
    rounds = [20.0, 10.0, 18.5, 20.0, 11.0]  # on track, off track, at risk...
    in_flight = asyncio.Semaphore(8)  # below the key's limit of requests in flight

    async def checking_in(key_result: str, value: float) -> None:
        async with in_flight:
            await check_in(api, key_result, value)

    await asyncio.gather(
        *(checking_in(key_result, value) for value in rounds for key_result in siblings)
    )

    rows = [
        row
        for row in await events(engine, api.organization_id)
        if row["subject_id"] == uuid_of(ids["objective"])
    ]
    rows.sort(key=lambda row: row["sequence"])
    assert [row["sequence"] for row in rows] == list(range(1, len(rows) + 1))
    told = [row["data"]["changes"]["health"] for row in rows[1:]]
    assert told, "the objective's health never moved"
    assert [row["type"] for row in rows[1:]] == ["objective.health_changed"] * len(told)
    chain = [rows[0]["data"]["object"]["health"], *(change["to"] for change in told)]
    assert [change["from"] for change in told] == chain[:-1]
    assert all(change["from"] != change["to"] for change in told)
    found = await node(api, ids["objective"], "... on Objective { health }")
    assert chain[-1] == found["health"]


@pytest.mark.parametrize(
    "checked_at",
    ["0001-01-01T00:30:00+01:00", "2026-01-01T10:00:00", "9999-12-31T23:00:00-05:00"],
)
async def test_check_in_times_out_of_range_or_without_zone_are_refused(
    api: Api, engine: AsyncEngine, checked_at: str
) -> None:
    ids = await factories.okr(api)
    input_ = {"keyResultId": ids["key_result"], "value": 12, "checkedAt": checked_at}
    await refused(api, engine, "recordCheckIn", input_, "INVALID_VALUE", ["checkedAt"])


async def test_shipped_at_needs_a_time_zone(api: Api, engine: AsyncEngine) -> None:
    ids = await factories.okr(api)
    input_ = {"title": "Tour", "teamId": ids["team"], "shippedAt": "2026-01-01T10:00:00"}
    await refused(api, engine, "createInitiative", input_, "INVALID_VALUE", ["shippedAt"])
