from typing import Any

import pytest

from tests import factories
from tests.conftest import Api
from tests.graphql.support import b64, gid

CONNECTIONS = ["teams", "cycles", "objectives", "keyResults", "initiatives", "alignmentLinks"]
PAGE = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id } }"


async def page(
    api: Api, connection: str, first: int | None, after: str | None = None
) -> dict[str, Any]:
    data = await api.query(
        f"query($first: Int, $after: String) {{ page: {connection}(first: $first, after: $after)"
        f" {{ {PAGE} }} }}",
        {"first": first, "after": after},
    )
    found: dict[str, Any] = data["page"]
    return found


async def test_teams_page_forward_with_cursors(api: Api) -> None:
    teams = [await factories.team(api, f"Team {n}") for n in range(5)]
    seen: list[str] = []
    after = None
    pages = []
    while True:
        found = await page(api, "teams", 2, after)
        ids = [edge["node"]["id"] for edge in found["edges"]]
        seen += ids
        info = found["pageInfo"]
        pages.append((len(ids), info["hasNextPage"], info["hasPreviousPage"]))
        assert info["startCursor"] == found["edges"][0]["cursor"]
        assert info["endCursor"] == found["edges"][-1]["cursor"]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert seen == teams
    assert pages == [(2, True, False), (2, True, True), (1, False, True)]


async def test_objectives_page_and_an_exact_last_page(api: Api) -> None:
    team = await factories.team(api)
    cycle = await factories.cycle(api)
    objectives = [await factories.objective(api, team, cycle, f"O{n}") for n in range(4)]
    first = await page(api, "objectives", 2)
    assert [edge["node"]["id"] for edge in first["edges"]] == objectives[:2]
    assert first["pageInfo"]["hasNextPage"] is True
    second = await page(api, "objectives", 2, first["pageInfo"]["endCursor"])
    assert [edge["node"]["id"] for edge in second["edges"]] == objectives[2:]
    assert second["pageInfo"]["hasNextPage"] is False
    empty = await page(api, "objectives", 2, second["pageInfo"]["endCursor"])
    assert empty["edges"] == []
    assert empty["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "startCursor": None,
        "endCursor": None,
    }


async def test_default_and_bounds_of_first(api: Api) -> None:
    for n in range(3):
        await factories.team(api, f"T{n}")
    assert len((await page(api, "teams", None))["edges"]) == 3
    assert len((await page(api, "teams", 100))["edges"]) == 3
    zero = await page(api, "teams", 0)
    assert zero["edges"] == []
    assert zero["pageInfo"]["hasNextPage"] is True


@pytest.mark.parametrize("connection", CONNECTIONS)
@pytest.mark.parametrize("first", [101, -1, 10_000])
async def test_first_out_of_range_is_an_out_of_range_error(
    api: Api, connection: str, first: int
) -> None:
    errors = await api.errors(f"{{ {connection}(first: {first}) {{ edges {{ cursor }} }} }}")
    assert len(errors) == 1
    assert errors[0]["extensions"] == {"code": "OUT_OF_RANGE", "field": ["first"]}
    assert errors[0]["path"] == [connection]


@pytest.mark.parametrize("connection", CONNECTIONS)
@pytest.mark.parametrize(
    "cursor", ["garbage", b64("garbage"), b64("cursor:not-a-uuid"), gid("Team"), ""]
)
async def test_malformed_cursor_is_an_invalid_id_error(
    api: Api, connection: str, cursor: str
) -> None:
    errors = await api.errors(
        f"query($after: String) {{ {connection}(after: $after) {{ edges {{ cursor }} }} }}",
        {"after": cursor},
    )
    assert [error["extensions"]["code"] for error in errors] == ["INVALID_ID"]
    assert errors[0]["extensions"]["field"] == ["after"]


@pytest.mark.parametrize(
    "value",
    ["not-an-id", b64("garbage"), b64("Nope:1234"), gid("Viewer"), gid("PageInfo")],
)
async def test_node_with_a_malformed_id_is_an_invalid_id_error(api: Api, value: str) -> None:
    body = (await api.post("query($id: ID!) { node(id: $id) { id } }", {"id": value})).json()
    assert body["data"] == {"node": None}
    assert [error["extensions"] for error in body["errors"]] == [{"code": "INVALID_ID"}]
    assert body["errors"][0]["message"] == "Malformed ID."


async def test_node_with_a_bad_uuid_is_null(api: Api) -> None:
    assert (
        await api.query("query($id: ID!) { node(id: $id) { id } }", {"id": b64("Team:nope")})
    ) == {"node": None}
