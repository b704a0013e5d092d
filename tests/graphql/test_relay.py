"""Relay all the way down: the lists under a node are connections (paged by `first`/`after`,
capped, counted on demand), and the organization is a node like any other."""

from typing import Any

import pytest
from fastapi import FastAPI

from okr_service.graphql.planner import CompiledReads
from tests import factories
from tests.conftest import Api, StatementCounter
from tests.graphql.support import b64, gid, node, uuid_of
from tests.webhooks.conftest import settings_changed

PAGE = "totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { %s } }"


def page_of(field: str, selection: str = "id") -> str:
    """A query for one page of `field` ("Type.name") under the node `$id`."""
    type_name, name = field.split(".")
    return (
        "query($id: ID!, $first: Int, $after: String) { node(id: $id) { ... on "
        f"{type_name} {{ {name}(first: $first, after: $after) {{ {PAGE % selection} }} }} }} }}"
    )


async def pages(api: Api, field: str, id_: str, first: int, selection: str = "id") -> list[Any]:
    """Every page of `field` under node `id_`, `first` at a time, following `endCursor`."""
    found, after = [], None
    name = field.split(".")[1]
    while True:
        data = await api.query(
            page_of(field, selection), {"id": id_, "first": first, "after": after}
        )
        connection = data["node"][name]
        found.append(connection)
        if not connection["pageInfo"]["hasNextPage"]:
            return found
        after = connection["pageInfo"]["endCursor"]


def ids(connections: list[Any]) -> list[str]:
    return [edge["node"]["id"] for connection in connections for edge in connection["edges"]]


async def check_in(api: Api, key_result: str, value: float, at: str) -> str:
    payload = await api.ok(
        "recordCheckIn", {"keyResultId": key_result, "value": value, "checkedAt": at}
    )
    return str(payload["checkIn"]["id"])


async def test_a_teams_objectives_page_by_cursor_in_creation_order(api: Api) -> None:
    team, other = await factories.team(api, "Growth"), await factories.team(api, "Other")
    cycle = await factories.cycle(api)
    titles = ["Win trials", "Delight admins", "Explain pricing", "Keep customers", "Grow usage"]
    created = [await factories.objective(api, team, cycle, title) for title in titles]
    await factories.objective(api, other, cycle, "Not this team's")

    found = await pages(api, "Team.objectives", team, 2)
    assert ids(found) == created
    assert [len(page["edges"]) for page in found] == [2, 2, 1]
    assert [page["totalCount"] for page in found] == [5, 5, 5]  # the list, not the page
    assert [page["pageInfo"]["hasPreviousPage"] for page in found] == [False, True, True]
    assert found[-1]["pageInfo"]["endCursor"] == found[-1]["edges"][-1]["cursor"]


async def test_a_cycles_children_and_objectives_are_connections(api: Api) -> None:
    year = await factories.cycle(api, "2026", "2026-01-01", "2026-12-31")
    quarters = [
        await factories.cycle(api, f"Q{n}", f"2026-0{3 * n - 2}-01", f"2026-0{3 * n - 2}-28", year)
        for n in (1, 2, 3)
    ]
    team = await factories.team(api)
    objectives = [await factories.objective(api, team, year, f"Annual {n}") for n in range(3)]
    await factories.objective(api, team, quarters[0], "A quarter's, not the year's")

    assert ids(await pages(api, "Cycle.children", year, 2)) == quarters
    assert ids(await pages(api, "Cycle.objectives", year, 1)) == objectives
    assert ids(await pages(api, "Team.children", team, 1)) == []


async def test_check_ins_page_newest_first_and_history_oldest_first(api: Api) -> None:
    ids_ = await factories.okr(api)
    key_result = ids_["key_result"]
    # Recorded out of order, two at the same moment (the key breaks the tie).
    moments = ["2026-02-01T09:00:00Z", "2026-01-05T09:00:00Z", "2026-03-01T09:00:00Z"]
    recorded = [await check_in(api, key_result, n, at) for n, at in enumerate(moments)]
    recorded.append(await check_in(api, key_result, 9, moments[0]))
    by_time = [recorded[1], *sorted([recorded[0], recorded[3]], key=_key_of), recorded[2]]

    history = await pages(api, "KeyResult.history", key_result, 1, "id checkedAt")
    assert ids(history) == by_time
    assert history[0]["totalCount"] == 4
    newest = await pages(api, "KeyResult.checkIns", key_result, 3, "id")
    assert ids(newest) == by_time[::-1]
    assert [len(page["edges"]) for page in newest] == [3, 1]


def _key_of(global_id: str) -> str:
    """A check-in's key as text, which sorts as PostgreSQL sorts the keys."""
    return str(uuid_of(global_id))


# Each read path alone (the suite otherwise runs both on every query, to compare them).
ONE_PATH = {
    "compiled": {"query_planner_verify": False},
    "strawberry": {"query_planner": False},
}


@pytest.mark.parametrize("path", list(ONE_PATH))
async def test_many_parents_share_one_page_statement_and_one_count(
    api: Api, app: FastAPI, sql_statements: StatementCounter, path: str
) -> None:
    cycle = await factories.cycle(api)
    query = (
        "query($first: Int!) { teams(first: 100) { edges { node { id"
        " objectives(first: $first) { %s edges { node { id } } } } } } }"
    )

    async def statements(count: bool) -> int:
        sql_statements.statements.clear()
        answered = CompiledReads.answered
        with settings_changed(app, **ONE_PATH[path]):
            data = await api.query(query % ("totalCount" if count else ""), {"first": 2})
        assert (CompiledReads.answered > answered) == (path == "compiled")
        for edge in data["teams"]["edges"]:
            objectives = edge["node"]["objectives"]
            assert len(objectives["edges"]) == 2
            assert objectives.get("totalCount", 3) == 3
        return sql_statements.count

    for _ in range(2):
        team = await factories.team(api)
        for n in range(3):
            await factories.objective(api, team, cycle, f"Objective {n}")
    few, few_counted = await statements(False), await statements(True)
    for _ in range(4):
        team = await factories.team(api)
        for n in range(3):
            await factories.objective(api, team, cycle, f"Objective {n}")
    assert await statements(False) == few  # 6 teams read like 2
    assert await statements(True) == few_counted == few + 1  # one COUNT, only when asked


async def test_total_count_respects_the_filters_of_a_root_connection(api: Api) -> None:
    growth, platform = await factories.team(api, "Growth"), await factories.team(api, "Platform")
    q1, q2 = await factories.cycle(api, "Q1"), await factories.cycle(api, "Q2")
    for team, cycle in [(growth, q1), (growth, q1), (growth, q2), (platform, q1)]:
        await factories.objective(api, team, cycle)
    query = (
        "query($f: ObjectiveFilter) { objectives(filter: $f, first: 1) { totalCount"
        " edges { node { id } } } }"
    )
    counts = [
        (await api.query(query, {"f": f}))["objectives"]["totalCount"]
        for f in ({}, {"teamId": growth}, {"teamId": growth, "cycleId": q1}, {"cycleId": q2})
    ]
    assert counts == [4, 3, 2, 1]
    # Health is derived per objective: not counted (null), never guessed.
    by_health = await api.query(query, {"f": {"health": "ON_TRACK"}})
    assert by_health["objectives"]["totalCount"] is None
    assert len(by_health["objectives"]["edges"]) == 1
    teams = await api.query("{ teams { totalCount } cycles(first: 0) { totalCount } }")
    assert teams == {"teams": {"totalCount": 2}, "cycles": {"totalCount": 2}}


@pytest.mark.parametrize("first", [-1, 101, 5000])  # far larger: refused by the query cost
async def test_a_nested_page_is_capped_like_a_root_one(api: Api, first: int) -> None:
    team = await factories.team(api)
    errors = await api.errors(page_of("Team.objectives"), {"id": team, "first": first})
    assert [error["extensions"]["code"] for error in errors] == ["OUT_OF_RANGE"]
    assert errors[0]["extensions"]["field"] == ["first"]


@pytest.mark.parametrize("cursor", ["garbage", b64("cursor:not-a-uuid"), ""])
async def test_a_nested_malformed_cursor_is_an_invalid_id(api: Api, cursor: str) -> None:
    team = await factories.team(api)
    errors = await api.errors(page_of("Team.objectives"), {"id": team, "first": 2, "after": cursor})
    assert [error["extensions"]["code"] for error in errors] == ["INVALID_ID"]


async def test_another_tenants_cursor_reveals_nothing(api: Api, other_api: Api) -> None:
    ours, theirs = await factories.okr(api), await factories.okr(other_api)
    await check_in(api, ours["key_result"], 11, "2026-01-10T09:00:00Z")
    await check_in(api, ours["key_result"], 12, "2026-01-20T09:00:00Z")
    foreign = await check_in(other_api, theirs["key_result"], 5, "2026-01-15T09:00:00Z")
    their_cursor = b64(f"cursor:{_key_of(foreign)}")
    for field in ("KeyResult.checkIns", "KeyResult.history"):
        data = await api.query(
            page_of(field), {"id": ours["key_result"], "first": 10, "after": their_cursor}
        )
        found = data["node"][field.split(".")[1]]
        assert found["edges"] == [], field  # no position leaks from another organization
        assert found["totalCount"] == 2


async def test_the_organization_is_a_node_refetched_by_its_id(api: Api, other_api: Api) -> None:
    viewer = "{ viewer { organization { id name } } }"
    ours = (await api.query(viewer))["viewer"]["organization"]
    theirs = (await other_api.query(viewer))["viewer"]["organization"]
    selection = "__typename id ... on Organization { name }"
    assert await node(api, ours["id"], selection) == {"__typename": "Organization", **ours}
    assert await node(api, theirs["id"], selection) is None  # another tenant: as if unknown
    assert await node(api, gid("Organization"), selection) is None
