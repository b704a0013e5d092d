from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests import factories
from tests.conftest import Api
from tests.graphql.support import bad_ids, node, refused

FIELDS = (
    "title description status startDate shippedAt impact confidence ease iceScore version"
    " externalRef { system key url } team { id }"
)
LINKS = "keyResultLinks { expectedImpact keyResult { id } initiative { id } }"


async def test_create_initiative_reads_back_every_field(api: Api) -> None:
    team = await factories.team(api)
    payload = await api.ok(
        "createInitiative",
        {
            "title": " Interactive product tour ",
            "teamId": team,
            "description": "Guide users",
            "status": "PLANNED",
            "startDate": "2026-02-02",
            "shippedAt": "2026-03-01T10:00:00+00:00",
            "impact": 8,
            "confidence": 6,
            "ease": 5,
            "externalRef": {
                "system": "jira",
                "key": "ONB-42",
                "url": "https://jira.example/ONB-42",
            },
        },
        f"initiative {{ id {FIELDS} }}",
    )
    expected = {
        "title": "Interactive product tour",
        "description": "Guide users",
        "status": "PLANNED",
        "startDate": "2026-02-02",
        "shippedAt": "2026-03-01T10:00:00+00:00",
        "impact": 8,
        "confidence": 6,
        "ease": 5,
        "iceScore": 240,
        "version": 1,
        "externalRef": {"system": "jira", "key": "ONB-42", "url": "https://jira.example/ONB-42"},
        "team": {"id": team},
    }
    initiative = payload["initiative"]
    assert initiative == {"id": initiative["id"], **expected}
    assert await node(api, initiative["id"], f"... on Initiative {{ {FIELDS} }}") == expected


async def test_create_initiative_defaults(api: Api) -> None:
    team = await factories.team(api)
    initiative = await factories.initiative(api, team)
    found = await node(
        api, initiative, "... on Initiative { status impact iceScore externalRef { key } }"
    )
    assert found == {"status": "PROPOSED", "impact": None, "iceScore": None, "externalRef": None}


async def test_update_initiative_changes_fields(api: Api) -> None:
    team = await factories.team(api)
    other = await factories.team(api, "Other")
    initiative = await factories.initiative(api, team, impact=2, confidence=2, ease=2)
    payload = await api.ok(
        "updateInitiative",
        {
            "id": initiative,
            "title": "Tour v2",
            "teamId": other,
            "status": "PARKED",
            "ease": 10,
            "impact": 1,
            "externalRef": {"system": "linear", "key": "L-1"},
        },
        "initiative { title status impact confidence ease iceScore version team { id }"
        " externalRef { system key url } }",
    )
    assert payload["initiative"] == {
        "title": "Tour v2",
        "status": "PARKED",
        "impact": 1,
        "confidence": 2,
        "ease": 10,
        "iceScore": 20,
        "version": 2,
        "team": {"id": other},
        "externalRef": {"system": "linear", "key": "L-1", "url": None},
    }
    cleared = await api.ok(
        "updateInitiative",
        {"id": initiative, "externalRef": None, "confidence": None},
        "initiative { externalRef { key } confidence iceScore }",
    )
    assert cleared["initiative"] == {"externalRef": None, "confidence": None, "iceScore": None}


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"title": ""}, "REQUIRED", ["title"]),
        ({"title": "  "}, "REQUIRED", ["title"]),
        ({"title": "x" * 201}, "TOO_LONG", ["title"]),
        ({"description": "x" * 10_001}, "TOO_LONG", ["description"]),
        ({"impact": 0}, "OUT_OF_RANGE", ["impact"]),
        ({"impact": 11}, "OUT_OF_RANGE", ["impact"]),
        ({"confidence": 0}, "OUT_OF_RANGE", ["confidence"]),
        ({"confidence": 11}, "OUT_OF_RANGE", ["confidence"]),
        ({"ease": -1}, "OUT_OF_RANGE", ["ease"]),
        ({"ease": 100}, "OUT_OF_RANGE", ["ease"]),
        (
            {"externalRef": {"url": "ftp://files.example/x"}},
            "INVALID_VALUE",
            ["externalRef", "url"],
        ),
        ({"externalRef": {"url": "not a url"}}, "INVALID_VALUE", ["externalRef", "url"]),
        ({"externalRef": {"url": "https://"}}, "INVALID_VALUE", ["externalRef", "url"]),
        ({"externalRef": {"key": "k" * 201}}, "TOO_LONG", ["externalRef", "key"]),
        ({"externalRef": {"system": "s" * 41}}, "TOO_LONG", ["externalRef", "system"]),
        (
            {"externalRef": {"url": "https://x.example/" + "a" * 2000}},
            "TOO_LONG",
            ["externalRef", "url"],
        ),
        ({"teamId": "not-an-id"}, "INVALID_ID", ["teamId"]),
    ],
)
async def test_create_and_update_initiative_refuse_bad_input(
    api: Api, engine: AsyncEngine, fields: dict[str, Any], code: str, field: list[str]
) -> None:
    team = await factories.team(api)
    await refused(
        api, engine, "createInitiative", {"title": "Tour", "teamId": team, **fields}, code, field
    )
    initiative = await factories.initiative(api, team)
    await refused(api, engine, "updateInitiative", {"id": initiative, **fields}, code, field)


@pytest.mark.parametrize("score", [1, 10])
async def test_ice_bounds_are_inclusive(api: Api, score: int) -> None:
    team = await factories.team(api)
    initiative = await factories.initiative(api, team, impact=score, confidence=score, ease=score)
    found = await node(api, initiative, "... on Initiative { iceScore }")
    assert found == {"iceScore": score**3}


@pytest.mark.parametrize("field", ["title", "status"])
async def test_update_initiative_refuses_null_for_required_fields(
    api: Api, engine: AsyncEngine, field: str
) -> None:
    team = await factories.team(api)
    initiative = await factories.initiative(api, team)
    await refused(
        api, engine, "updateInitiative", {"id": initiative, field: None}, "REQUIRED", [field]
    )


@pytest.mark.parametrize(("bad_id", "code"), bad_ids("Team", "Initiative"))
async def test_initiatives_refuse_bad_team_ids(
    api: Api, engine: AsyncEngine, bad_id: str, code: str
) -> None:
    team = await factories.team(api)
    initiative = await factories.initiative(api, team)
    await refused(
        api, engine, "createInitiative", {"title": "T", "teamId": bad_id}, code, ["teamId"]
    )
    await refused(
        api, engine, "updateInitiative", {"id": initiative, "teamId": bad_id}, code, ["teamId"]
    )


@pytest.mark.parametrize(("bad_id", "code"), bad_ids("Initiative", "KeyResult"))
async def test_initiative_mutations_refuse_bad_initiative_ids(
    api: Api, engine: AsyncEngine, bad_id: str, code: str
) -> None:
    ids = await factories.okr(api)
    await factories.initiative(api, ids["team"])
    link = {"initiativeId": bad_id, "keyResultId": ids["key_result"]}
    await refused(api, engine, "updateInitiative", {"id": bad_id, "title": "T"}, code, ["id"])
    await refused(api, engine, "linkInitiative", link, code, ["initiativeId"])
    await refused(api, engine, "unlinkInitiative", link, code, ["initiativeId"])


@pytest.mark.parametrize(("bad_id", "code"), bad_ids("KeyResult", "Initiative"))
async def test_link_initiative_refuses_bad_key_result_ids(
    api: Api, engine: AsyncEngine, bad_id: str, code: str
) -> None:
    ids = await factories.okr(api)
    initiative = await factories.initiative(api, ids["team"])
    link = {"initiativeId": initiative, "keyResultId": bad_id}
    await refused(api, engine, "linkInitiative", link, code, ["keyResultId"])
    await refused(api, engine, "unlinkInitiative", link, code, ["keyResultId"])


async def test_link_relink_and_unlink_an_initiative(api: Api, engine: AsyncEngine) -> None:
    ids = await factories.okr(api)
    second_kr = await factories.key_result(api, ids["objective"], "Second")
    initiative = await factories.initiative(api, ids["team"])
    payload = await api.ok(
        "linkInitiative",
        {"initiativeId": initiative, "keyResultId": ids["key_result"], "expectedImpact": 8},
        f"initiative {{ id {LINKS} }}"
        " link { expectedImpact keyResult { id } initiative { id } }",
    )
    link = {
        "expectedImpact": 8.0,
        "keyResult": {"id": ids["key_result"]},
        "initiative": {"id": initiative},
    }
    assert payload["link"] == link
    assert payload["initiative"] == {"id": initiative, "keyResultLinks": [link]}

    relinked = await api.ok(
        "linkInitiative",
        {"initiativeId": initiative, "keyResultId": ids["key_result"], "expectedImpact": 3.5},
        "link { expectedImpact }",
    )
    assert relinked["link"] == {"expectedImpact": 3.5}
    await api.ok("linkInitiative", {"initiativeId": initiative, "keyResultId": second_kr})
    found = await node(
        api,
        ids["key_result"],
        "... on KeyResult { initiatives { id } initiativeLinks { expectedImpact } }",
    )
    assert found == {
        "initiatives": [{"id": initiative}],
        "initiativeLinks": [{"expectedImpact": 3.5}],
    }
    found = await node(api, ids["objective"], "... on Objective { initiatives { id } }")
    assert found == {"initiatives": [{"id": initiative}]}  # once, though linked to two KRs

    payload = await api.ok(
        "unlinkInitiative",
        {"initiativeId": initiative, "keyResultId": ids["key_result"]},
        "initiative { keyResultLinks { keyResult { id } } }",
    )
    assert payload["initiative"] == {"keyResultLinks": [{"keyResult": {"id": second_kr}}]}
    assert await node(api, ids["key_result"], "... on KeyResult { initiatives { id } }") == {
        "initiatives": []
    }
    unlink = {"initiativeId": initiative, "keyResultId": ids["key_result"]}
    await refused(api, engine, "unlinkInitiative", unlink, "NOT_FOUND", ["keyResultId"])


async def test_initiatives_filter(api: Api) -> None:
    team = await factories.team(api)
    other = await factories.team(api, "Other")
    tour = await factories.initiative(api, team, externalRef={"system": "jira", "key": "ONB-1"})
    docs = await factories.initiative(api, other, "Docs", status="DONE")

    async def matching(filter_: dict[str, Any]) -> list[str]:
        data = await api.query(
            "query($f: InitiativeFilter) { initiatives(filter: $f) { edges { node { id } } } }",
            {"f": filter_},
        )
        return [edge["node"]["id"] for edge in data["initiatives"]["edges"]]

    assert await matching({}) == [tour, docs]
    assert await matching({"teamId": other}) == [docs]
    assert await matching({"status": "DONE"}) == [docs]
    assert await matching({"externalSystem": "jira", "externalKey": "ONB-1"}) == [tour]
    assert await matching({"externalSystem": "jira", "externalKey": "ONB-2"}) == []
