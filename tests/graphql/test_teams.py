import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests import factories
from tests.conftest import Api
from tests.graphql.support import bad_ids, gid, malformed_ids, node, refused

TEAM = "... on Team { name parent { id } children { edges { node { id } } } }"


async def test_create_team_reads_back_with_parent_and_children(api: Api) -> None:
    payload = await api.ok("createTeam", {"name": "  Company  "}, "team { id name parent { id } }")
    company = payload["team"]
    assert company["name"] == "Company"  # trimmed
    assert company["parent"] is None
    product = await factories.team(api, "Product", company["id"])

    assert await node(api, product, TEAM) == {
        "name": "Product",
        "parent": {"id": company["id"]},
        "children": {"edges": []},
    }
    assert (await node(api, company["id"], TEAM))["children"] == {
        "edges": [{"node": {"id": product}}]
    }


async def test_update_team_renames_moves_and_detaches(api: Api) -> None:
    company = await factories.team(api, "Company")
    sales = await factories.team(api, "Sales")
    squad = await factories.team(api, "Squad", company)

    payload = await api.ok(
        "updateTeam",
        {"id": squad, "name": "Deal squad", "parentId": sales},
        "team { id name parent { id } }",
    )
    assert payload["team"] == {"id": squad, "name": "Deal squad", "parent": {"id": sales}}
    assert await node(api, company, TEAM) == {
        "name": "Company",
        "parent": None,
        "children": {"edges": []},
    }

    payload = await api.ok(
        "updateTeam", {"id": squad, "parentId": None}, "team { name parent { id } }"
    )
    assert payload["team"] == {"name": "Deal squad", "parent": None}


@pytest.mark.parametrize(
    ("name", "code"),
    [("", "REQUIRED"), ("   ", "REQUIRED"), ("x" * 201, "TOO_LONG")],
)
async def test_create_team_refuses_bad_names(
    api: Api, engine: AsyncEngine, name: str, code: str
) -> None:
    await refused(api, engine, "createTeam", {"name": name}, code, ["name"])


async def test_a_name_of_200_characters_is_accepted(api: Api) -> None:
    payload = await api.ok("createTeam", {"name": "x" * 200}, "team { name }")
    assert payload["team"]["name"] == "x" * 200


@pytest.mark.parametrize("bad_id", malformed_ids("Team"))
async def test_create_team_refuses_a_malformed_parent(
    api: Api, engine: AsyncEngine, bad_id: str
) -> None:
    await refused(
        api, engine, "createTeam", {"name": "A", "parentId": bad_id}, "INVALID_ID", ["parentId"]
    )


async def test_create_team_refuses_unknown_wrong_type_and_foreign_parents(
    api: Api, other_api: Api, engine: AsyncEngine
) -> None:
    foreign = await factories.team(other_api)
    cycle = await factories.cycle(api)
    unknown = await refused(
        api, engine, "createTeam", {"name": "A", "parentId": gid("Team")}, "NOT_FOUND", ["parentId"]
    )
    wrong_type = await refused(
        api, engine, "createTeam", {"name": "A", "parentId": cycle}, "NOT_FOUND", ["parentId"]
    )
    other = await refused(
        api, engine, "createTeam", {"name": "A", "parentId": foreign}, "NOT_FOUND", ["parentId"]
    )
    assert other == unknown
    assert wrong_type[0]["code"] == "NOT_FOUND"


async def test_update_team_refuses_parent_loops(api: Api, engine: AsyncEngine) -> None:
    company = await factories.team(api, "Company")
    product = await factories.team(api, "Product", company)
    squad = await factories.team(api, "Squad", product)
    for parent in (company, product, squad):
        await refused(
            api,
            engine,
            "updateTeam",
            {"id": company, "parentId": parent},
            "SELF_REFERENCE",
            ["parentId"],
        )
    assert (await node(api, company, TEAM))["parent"] is None


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"name": None}, "REQUIRED", ["name"]),
        ({"name": " "}, "REQUIRED", ["name"]),
        ({"name": "x" * 201}, "TOO_LONG", ["name"]),
        ({"parentId": "not-an-id"}, "INVALID_ID", ["parentId"]),
        ({"parentId": gid("Team")}, "NOT_FOUND", ["parentId"]),
    ],
)
async def test_update_team_refuses_bad_changes(
    api: Api, engine: AsyncEngine, changes: dict[str, object], code: str, field: list[str]
) -> None:
    team = await factories.team(api, "Team")
    await refused(api, engine, "updateTeam", {"id": team, **changes}, code, field)
    assert (await node(api, team, TEAM))["name"] == "Team"


@pytest.mark.parametrize(("bad_id", "code"), bad_ids("Team", "Cycle"))
async def test_update_team_refuses_bad_ids(
    api: Api, engine: AsyncEngine, bad_id: str, code: str
) -> None:
    await factories.team(api)
    await refused(api, engine, "updateTeam", {"id": bad_id, "name": "B"}, code, ["id"])
