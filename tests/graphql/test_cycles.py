from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests import factories
from tests.conftest import Api
from tests.graphql.support import bad_ids, close_cycle, node, refused

CYCLE = (
    "... on Cycle { name startsOn endsOn state parent { id } children { edges { node { id } } } }"
)


async def test_create_cycle_reads_back_nested_in_its_year(api: Api) -> None:
    year = await factories.cycle(api, "2026", "2026-01-01", "2026-12-31")
    payload = await api.ok(
        "createCycle",
        {"name": " Q2 ", "startsOn": "2026-04-01", "endsOn": "2026-06-30", "parentId": year},
        "cycle { id name startsOn endsOn state parent { id } }",
    )
    quarter = payload["cycle"]
    assert quarter["name"] == "Q2"
    assert (quarter["startsOn"], quarter["endsOn"]) == ("2026-04-01", "2026-06-30")
    assert quarter["state"] == "PLANNING"
    assert quarter["parent"] == {"id": year}
    assert (await node(api, year, CYCLE))["children"] == {
        "edges": [{"node": {"id": quarter["id"]}}]
    }


async def test_a_cycle_may_fill_its_parent_exactly(api: Api) -> None:
    year = await factories.cycle(api, "2026", "2026-01-01", "2026-12-31")
    same = await factories.cycle(api, "H", "2026-01-01", "2026-12-31", year)
    assert (await node(api, same, CYCLE))["parent"] == {"id": year}


async def test_update_cycle_renames_redates_and_moves_through_states(api: Api) -> None:
    cycle = await factories.cycle(api)
    payload = await api.ok(
        "updateCycle",
        {"id": cycle, "name": "Q1 2026", "endsOn": "2026-04-05", "state": "ACTIVE"},
        "cycle { name startsOn endsOn state }",
    )
    assert payload["cycle"] == {
        "name": "Q1 2026",
        "startsOn": "2026-01-01",
        "endsOn": "2026-04-05",
        "state": "ACTIVE",
    }
    for state in ("REVIEW", "ACTIVE", "PLANNING"):
        payload = await api.ok("updateCycle", {"id": cycle, "state": state}, "cycle { state }")
        assert payload["cycle"]["state"] == state
    assert (await node(api, cycle, CYCLE))["state"] == "PLANNING"


@pytest.mark.parametrize(
    ("input_", "code", "field"),
    [
        ({"name": ""}, "REQUIRED", ["name"]),
        ({"name": "  "}, "REQUIRED", ["name"]),
        ({"name": "x" * 201}, "TOO_LONG", ["name"]),
        ({"startsOn": "2026-03-01", "endsOn": "2026-02-28"}, "INVALID_DATE_RANGE", ["endsOn"]),
        ({"parentId": "not-an-id"}, "INVALID_ID", ["parentId"]),
    ],
)
async def test_create_cycle_refuses_bad_input(
    api: Api, engine: AsyncEngine, input_: dict[str, Any], code: str, field: list[str]
) -> None:
    input_ = {"name": "Q1", "startsOn": "2026-01-01", "endsOn": "2026-03-31"} | input_
    await refused(api, engine, "createCycle", input_, code, field)


@pytest.mark.parametrize(
    ("starts_on", "ends_on"),
    [("2025-12-31", "2026-03-31"), ("2026-10-01", "2027-01-01"), ("2025-01-01", "2027-12-31")],
)
async def test_a_child_cycle_must_lie_within_its_parent(
    api: Api, engine: AsyncEngine, starts_on: str, ends_on: str
) -> None:
    year = await factories.cycle(api, "2026", "2026-01-01", "2026-12-31")
    input_ = {"name": "Q", "startsOn": starts_on, "endsOn": ends_on, "parentId": year}
    await refused(api, engine, "createCycle", input_, "INVALID_DATE_RANGE", ["parentId"])
    quarter = await factories.cycle(api, "Q1", "2026-01-01", "2026-03-31", year)
    changes = {"id": quarter, "startsOn": starts_on, "endsOn": ends_on}
    await refused(api, engine, "updateCycle", changes, "INVALID_DATE_RANGE", ["parentId"])
    orphan = await factories.cycle(api, "Q", starts_on, ends_on)
    changes = {"id": orphan, "parentId": year}
    await refused(api, engine, "updateCycle", changes, "INVALID_DATE_RANGE", ["parentId"])


async def test_a_parent_cycle_cannot_shrink_away_from_its_children(
    api: Api, engine: AsyncEngine
) -> None:
    year = await factories.cycle(api, "2026", "2026-01-01", "2026-12-31")
    await factories.cycle(api, "Q1", "2026-01-01", "2026-03-31", year)
    changes = {"id": year, "startsOn": "2026-02-01"}
    await refused(api, engine, "updateCycle", changes, "INVALID_DATE_RANGE", ["startsOn"])
    assert (await node(api, year, CYCLE))["startsOn"] == "2026-01-01"


async def test_update_cycle_refuses_parent_loops(api: Api, engine: AsyncEngine) -> None:
    outer = await factories.cycle(api, "A", "2026-01-01", "2026-03-31")
    inner = await factories.cycle(api, "B", "2026-01-01", "2026-03-31", outer)
    await refused(
        api, engine, "updateCycle", {"id": outer, "parentId": outer}, "SELF_REFERENCE", ["parentId"]
    )
    await refused(
        api, engine, "updateCycle", {"id": outer, "parentId": inner}, "SELF_REFERENCE", ["parentId"]
    )
    assert (await node(api, outer, CYCLE))["parent"] is None


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"name": None}, "REQUIRED", ["name"]),
        ({"startsOn": None}, "REQUIRED", ["startsOn"]),
        ({"endsOn": None}, "REQUIRED", ["endsOn"]),
        ({"state": None}, "REQUIRED", ["state"]),
        ({"endsOn": "2025-12-31"}, "INVALID_DATE_RANGE", ["endsOn"]),
        ({"state": "CLOSED"}, "INVALID_STATE", ["state"]),
        ({"state": "REVIEW"}, "INVALID_STATE", ["state"]),
    ],
)
async def test_update_cycle_refuses_bad_changes(
    api: Api, engine: AsyncEngine, changes: dict[str, Any], code: str, field: list[str]
) -> None:
    cycle = await factories.cycle(api)
    await refused(api, engine, "updateCycle", {"id": cycle, **changes}, code, field)
    assert await node(api, cycle, CYCLE) == {
        "name": "Q1",
        "startsOn": "2026-01-01",
        "endsOn": "2026-03-31",
        "state": "PLANNING",
        "parent": None,
        "children": {"edges": []},
    }


@pytest.mark.parametrize(("bad_id", "code"), bad_ids("Cycle", "Team"))
async def test_update_cycle_refuses_bad_ids(
    api: Api, engine: AsyncEngine, bad_id: str, code: str
) -> None:
    await factories.cycle(api)
    await refused(api, engine, "updateCycle", {"id": bad_id, "name": "B"}, code, ["id"])
    await refused(
        api,
        engine,
        "createCycle",
        {"name": "Q", "startsOn": "2026-01-01", "endsOn": "2026-02-01", "parentId": bad_id},
        code,
        ["parentId"],
    )


async def test_a_closed_cycle_cannot_change(api: Api, engine: AsyncEngine) -> None:
    cycle = await factories.cycle(api)
    await close_cycle(api, cycle)
    await refused(
        api, engine, "updateCycle", {"id": cycle, "name": "Reopened"}, "ALREADY_CLOSED", ["id"]
    )


async def test_malformed_dates_are_validation_errors(api: Api) -> None:
    errors = await api.errors(
        "mutation($input: CreateCycleInput!) { createCycle(input: $input) { cycle { id } } }",
        {"input": {"name": "Q", "startsOn": "2026-13-01", "endsOn": "2026-01-01"}},
    )
    assert errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
