from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests import factories
from tests.conftest import Api
from tests.graphql.support import bad_ids, close_cycle, node, refused

FIELDS = "title description owner kind state health progressMode version team { id } cycle { id }"


async def test_create_objective_reads_back_every_field(api: Api) -> None:
    team = await factories.team(api)
    cycle = await factories.cycle(api)
    payload = await api.ok(
        "createObjective",
        {
            "title": "  Make onboarding a confidence-building experience ",
            "teamId": team,
            "cycleId": cycle,
            "kind": "ASPIRATIONAL",
            "description": "Why it matters",
            "owner": "Ada",
            "progressMode": "BOTH",
        },
        f"objective {{ id {FIELDS} }}",
    )
    objective = payload["objective"]
    expected = {
        "title": "Make onboarding a confidence-building experience",
        "description": "Why it matters",
        "owner": "Ada",
        "kind": "ASPIRATIONAL",
        "state": "DRAFT",
        "health": "ON_TRACK",
        "progressMode": "BOTH",
        "version": 1,
        "team": {"id": team},
        "cycle": {"id": cycle},
    }
    assert objective == {"id": objective["id"], **expected}
    assert await node(api, objective["id"], f"... on Objective {{ {FIELDS} }}") == expected
    listed = await api.query("{ objectives { edges { node { id } } } }")
    assert listed["objectives"]["edges"] == [{"node": {"id": objective["id"]}}]


async def test_create_objective_defaults(api: Api) -> None:
    ids = await factories.okr(api)
    found = await node(
        api, ids["objective"], "... on Objective { kind progressMode description owner }"
    )
    assert found == {
        "kind": "COMMITTED",
        "progressMode": "KEY_RESULTS",
        "description": None,
        "owner": None,
    }


async def test_update_objective_changes_fields_and_bumps_version(api: Api) -> None:
    ids = await factories.okr(api)
    team = await factories.team(api, "Growth")
    cycle = await factories.cycle(api, "Q2", "2026-04-01", "2026-06-30")
    payload = await api.ok(
        "updateObjective",
        {
            "id": ids["objective"],
            "title": "Win the mid-market",
            "description": None,
            "owner": "Grace",
            "teamId": team,
            "cycleId": cycle,
            "kind": "ASPIRATIONAL",
            "state": "ACTIVE",
            "health": "AT_RISK",
            "progressMode": "ALIGNED",
        },
        f"objective {{ {FIELDS} }}",
    )
    assert payload["objective"] == {
        "title": "Win the mid-market",
        "description": None,
        "owner": "Grace",
        "kind": "ASPIRATIONAL",
        "state": "ACTIVE",
        "health": "AT_RISK",
        "progressMode": "ALIGNED",
        "version": 2,
        "team": {"id": team},
        "cycle": {"id": cycle},
    }
    again = await api.ok(
        "updateObjective",
        {"id": ids["objective"], "title": "Win the mid-market"},
        "objective { version }",
    )
    assert again["objective"]["version"] == 2  # nothing changed: no new version


async def test_delete_objective_removes_it_with_its_key_results(api: Api) -> None:
    ids = await factories.okr(api)
    payload = await api.mutate(
        "deleteObjective", {"id": ids["objective"]}, "objective { id title } deletedObjectiveId"
    )
    assert payload == {
        "objective": {"id": ids["objective"], "title": "Delight new customers"},
        "deletedObjectiveId": ids["objective"],
        "userErrors": [],
    }
    assert await node(api, ids["objective"], "id") is None
    assert await node(api, ids["key_result"], "id") is None
    data = await api.query(
        "{ objectives { edges { node { id } } } keyResults { edges { node { id } } } }"
    )
    assert data == {"objectives": {"edges": []}, "keyResults": {"edges": []}}


@pytest.mark.parametrize(
    ("input_", "code", "field"),
    [
        ({"title": ""}, "REQUIRED", ["title"]),
        ({"title": " \t "}, "REQUIRED", ["title"]),
        ({"title": "x" * 201}, "TOO_LONG", ["title"]),
        ({"description": "x" * 10_001}, "TOO_LONG", ["description"]),
        ({"owner": "x" * 201}, "TOO_LONG", ["owner"]),
        ({"teamId": "not-an-id"}, "INVALID_ID", ["teamId"]),
        ({"cycleId": "not-an-id"}, "INVALID_ID", ["cycleId"]),
    ],
)
async def test_create_objective_refuses_bad_input(
    api: Api, engine: AsyncEngine, input_: dict[str, Any], code: str, field: list[str]
) -> None:
    team = await factories.team(api)
    cycle = await factories.cycle(api)
    input_ = {"title": "Delight", "teamId": team, "cycleId": cycle} | input_
    await refused(api, engine, "createObjective", input_, code, field)
    assert (await api.query("{ objectives { edges { node { id } } } }"))["objectives"][
        "edges"
    ] == []


async def test_a_title_of_200_characters_is_accepted(api: Api) -> None:
    team = await factories.team(api)
    cycle = await factories.cycle(api)
    await factories.objective(api, team, cycle, "x" * 200)


@pytest.mark.parametrize(("bad_id", "code"), bad_ids("Team", "Cycle"))
async def test_create_objective_refuses_bad_team_ids(
    api: Api, engine: AsyncEngine, bad_id: str, code: str
) -> None:
    cycle = await factories.cycle(api)
    input_ = {"title": "Delight", "teamId": bad_id, "cycleId": cycle}
    await refused(api, engine, "createObjective", input_, code, ["teamId"])


@pytest.mark.parametrize(("bad_id", "code"), bad_ids("Cycle", "Team"))
async def test_create_objective_refuses_bad_cycle_ids(
    api: Api, engine: AsyncEngine, bad_id: str, code: str
) -> None:
    team = await factories.team(api)
    input_ = {"title": "Delight", "teamId": team, "cycleId": bad_id}
    await refused(api, engine, "createObjective", input_, code, ["cycleId"])


async def test_objectives_cannot_enter_a_closed_cycle(api: Api, engine: AsyncEngine) -> None:
    ids = await factories.okr(api)
    closed = await factories.cycle(api, "Q4", "2025-10-01", "2025-12-31")
    await close_cycle(api, closed)
    input_ = {"title": "Late", "teamId": ids["team"], "cycleId": closed}
    await refused(api, engine, "createObjective", input_, "ALREADY_CLOSED", ["cycleId"])
    changes = {"id": ids["objective"], "cycleId": closed}
    await refused(api, engine, "updateObjective", changes, "ALREADY_CLOSED", ["cycleId"])


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"title": None}, "REQUIRED", ["title"]),
        ({"title": ""}, "REQUIRED", ["title"]),
        ({"title": "x" * 201}, "TOO_LONG", ["title"]),
        ({"teamId": None}, "REQUIRED", ["teamId"]),
        ({"cycleId": None}, "REQUIRED", ["cycleId"]),
        ({"kind": None}, "REQUIRED", ["kind"]),
        ({"state": None}, "REQUIRED", ["state"]),
        ({"health": None}, "REQUIRED", ["health"]),
        ({"progressMode": None}, "REQUIRED", ["progressMode"]),
        ({"teamId": "not-an-id"}, "INVALID_ID", ["teamId"]),
        ({"cycleId": "VGVhbTpub3Bl"}, "INVALID_ID", ["cycleId"]),
    ],
)
async def test_update_objective_refuses_bad_changes(
    api: Api, engine: AsyncEngine, changes: dict[str, Any], code: str, field: list[str]
) -> None:
    ids = await factories.okr(api)
    await refused(api, engine, "updateObjective", {"id": ids["objective"], **changes}, code, field)


@pytest.mark.parametrize(("bad_id", "code"), bad_ids("Objective", "KeyResult"))
async def test_update_and_delete_objective_refuse_bad_ids(
    api: Api, engine: AsyncEngine, bad_id: str, code: str
) -> None:
    await factories.okr(api)
    await refused(api, engine, "updateObjective", {"id": bad_id, "title": "T"}, code, ["id"])
    await refused(api, engine, "deleteObjective", {"id": bad_id}, code, ["id"])


async def test_objectives_filter(api: Api) -> None:
    ids = await factories.okr(api)
    other_team = await factories.team(api, "Other")
    other_cycle = await factories.cycle(api, "Q2", "2026-04-01", "2026-06-30")
    stretch = await factories.objective(
        api, other_team, other_cycle, "Stretch", kind="ASPIRATIONAL"
    )
    await api.ok("updateObjective", {"id": stretch, "state": "ACTIVE", "health": "OFF_TRACK"})

    async def matching(filter_: dict[str, Any]) -> list[str]:
        data = await api.query(
            "query($f: ObjectiveFilter) { objectives(filter: $f) { edges { node { id } } } }",
            {"f": filter_},
        )
        return [edge["node"]["id"] for edge in data["objectives"]["edges"]]

    assert await matching({}) == [ids["objective"], stretch]
    assert await matching({"teamId": ids["team"]}) == [ids["objective"]]
    assert await matching({"cycleId": other_cycle}) == [stretch]
    assert await matching({"state": "ACTIVE"}) == [stretch]
    # Its key result never moved in a cycle now over: off track, as its field says.
    assert await matching({"health": "OFF_TRACK"}) == [ids["objective"], stretch]
    assert await matching({"health": "ON_TRACK"}) == []
    await api.ok("recordCheckIn", {"keyResultId": ids["key_result"], "value": 20}, "checkIn { id }")
    assert await matching({"health": "ON_TRACK"}) == [ids["objective"]]
    assert await matching({"kind": "ASPIRATIONAL", "teamId": other_team}) == [stretch]
    assert await matching({"kind": "ASPIRATIONAL", "teamId": ids["team"]}) == []


async def test_objectives_of_a_team_subtree(api: Api) -> None:
    company = await factories.team(api, "Company")
    product = await factories.team(api, "Product", company)
    squad = await factories.team(api, "Squad", product)
    platform = await factories.team(api, "Platform", company)
    cycle = await factories.cycle(api)
    titles = {}
    for team_id, title in (
        (company, "Lead"),
        (product, "Grow"),
        (squad, "Onboard"),
        (platform, "Run"),
    ):
        titles[await factories.objective(api, team_id, cycle, title)] = title
    query = (
        "query($filter: ObjectiveFilter) { objectives(filter: $filter) "
        "{ edges { node { title } } } }"
    )

    async def found(**filter_: object) -> list[str]:
        data = await api.query(query, {"filter": {"cycleId": cycle, **filter_}})
        return [edge["node"]["title"] for edge in data["objectives"]["edges"]]

    assert await found(teamId=product) == ["Grow"]
    assert await found(teamId=product, includeSubteams=True) == ["Grow", "Onboard"]
    assert await found(teamId=company, includeSubteams=True) == ["Lead", "Grow", "Onboard", "Run"]
    assert await found(teamId=squad, includeSubteams=True) == ["Onboard"]


async def test_objectives_of_a_closed_cycle_are_final(api: Api, engine: AsyncEngine) -> None:
    ids = await factories.okr(api)
    elsewhere = await factories.cycle(api, "Q2", "2026-04-01", "2026-06-30")
    await close_cycle(api, ids["cycle"])
    for name, input_ in (
        ("updateObjective", {"id": ids["objective"], "title": "Rewritten history"}),
        ("updateObjective", {"id": ids["objective"], "cycleId": elsewhere}),
        ("deleteObjective", {"id": ids["objective"]}),
    ):
        await refused(api, engine, name, input_, "ALREADY_CLOSED", ["id"])
