"""The transactional outbox: every change appends its events in its own transaction."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tests import factories
from tests.conftest import Api
from tests.graphql.support import db_state, events, refused, uuid_of


async def of(engine: AsyncEngine, api: Api, subject: str) -> list[dict[str, Any]]:
    """Events of one subject, by sequence; their sequence must run 1, 2, 3..."""
    rows = [
        row
        for row in await events(engine, api.organization_id)
        if row["subject_id"] == uuid_of(subject)
    ]
    rows.sort(key=lambda row: row["sequence"])
    assert [row["sequence"] for row in rows] == list(range(1, len(rows) + 1))
    return rows


def types(rows: list[dict[str, Any]]) -> list[str]:
    return [row["type"] for row in rows]


async def test_created_event_carries_snapshot_and_actor(api: Api, engine: AsyncEngine) -> None:
    parent = await factories.team(api, "Company")
    team = await factories.team(api, "Core", parent)
    (row,) = await of(engine, api, team)
    assert (row["type"], row["subject_type"], row["sequence"]) == ("team.created", "Team", 1)
    assert row["actor"]["type"] == "api_key"
    assert row["actor"]["name"] == "admin"
    assert row["data"]["changes"] == {}
    obj = row["data"]["object"]
    assert {key: obj[key] for key in ("id", "typename", "name", "parentId")} == {
        "id": team,
        "typename": "Team",
        "name": "Core",
        "parentId": parent,
    }


async def test_objective_updates_emit_changes_and_status_events(
    api: Api, engine: AsyncEngine
) -> None:
    ids = await factories.okr(api)
    await api.ok(
        "updateObjective",
        {"id": ids["objective"], "title": "Win", "state": "ACTIVE", "health": "AT_RISK"},
    )
    created, derived, updated, state_changed, health_changed = await of(
        engine, api, ids["objective"]
    )
    assert types([created, derived, updated, state_changed, health_changed]) == [
        "objective.created",
        "objective.health_changed",  # its first key result lags the (past) cycle
        "objective.updated",
        "objective.state_changed",
        "objective.health_changed",
    ]
    assert derived["data"]["changes"] == {"health": {"from": "ON_TRACK", "to": "OFF_TRACK"}}
    assert derived["actor"]["type"] == "api_key"  # the key that created the key result
    changes = updated["data"]["changes"]
    assert changes["title"] == {"from": "Delight new customers", "to": "Win"}
    assert changes["state"] == {"from": "DRAFT", "to": "ACTIVE"}
    assert changes["health"] == {"from": "OFF_TRACK", "to": "AT_RISK"}
    assert state_changed["data"]["changes"] == {"state": {"from": "DRAFT", "to": "ACTIVE"}}
    assert health_changed["data"]["changes"]["health"] == {"from": "OFF_TRACK", "to": "AT_RISK"}
    assert updated["data"]["object"]["title"] == "Win"
    assert updated["data"]["object"]["version"] == 2  # a derived health is not an edit

    await api.ok("updateObjective", {"id": ids["objective"], "title": "Win"})  # no change
    assert len(await of(engine, api, ids["objective"])) == 5
    await api.ok("deleteObjective", {"id": ids["objective"]})
    deleted = (await of(engine, api, ids["objective"]))[-1]
    assert deleted["type"] == "objective.deleted"
    assert deleted["data"]["object"]["title"] == "Win"


async def test_key_result_events(api: Api, engine: AsyncEngine) -> None:
    ids = await factories.okr(api)  # start 10, target 20
    kr = ids["key_result"]
    # Created at its baseline in a past cycle: derived OFF_TRACK, then set by hand.
    await api.ok("updateKeyResult", {"id": kr, "health": "AT_RISK", "weight": 2})
    await api.ok(
        "recordCheckIn", {"keyResultId": kr, "value": 15, "health": "AT_RISK"}, "checkIn { id }"
    )
    await api.ok("recordCheckIn", {"keyResultId": kr, "value": 21}, "checkIn { id }")
    rows = await of(engine, api, kr)
    assert types(rows)[:4] == [
        "key_result.created",
        "key_result.updated",
        "key_result.health_changed",
        "key_result.checked_in",
    ]
    assert rows[1]["data"]["changes"]["weight"] == {"from": 1.0, "to": 2.0}
    assert rows[2]["data"]["changes"] == {"health": {"from": "OFF_TRACK", "to": "AT_RISK"}}
    checked_in = rows[3]["data"]
    assert checked_in["changes"]["currentValue"] == {"from": None, "to": 15.0}
    assert checked_in["object"]["checkIn"]["value"] == 15.0
    later = types(rows[4:])
    assert later.count("key_result.checked_in") == 1
    assert later.count("key_result.achieved") == 1
    # The check-in naming no health hands it back to the derivation: achieved, on track.
    assert later.count("key_result.health_changed") == 1
    await api.ok("deleteKeyResult", {"id": kr})
    assert types(await of(engine, api, kr))[-1] == "key_result.deleted"


async def test_a_backdated_check_in_is_an_event_too(api: Api, engine: AsyncEngine) -> None:
    ids = await factories.okr(api)
    await api.ok("recordCheckIn", {"keyResultId": ids["key_result"], "value": 15}, "checkIn { id }")
    await api.ok(
        "recordCheckIn",
        {"keyResultId": ids["key_result"], "value": 12, "checkedAt": "2026-01-15T00:00:00Z"},
        "checkIn { id }",
    )
    rows = await of(engine, api, ids["key_result"])
    assert types(rows).count("key_result.checked_in") == 2
    assert rows[-1]["data"]["changes"] == {}
    assert rows[-1]["data"]["object"]["checkIn"]["value"] == 12.0
    assert rows[-1]["data"]["object"]["currentValue"] == 15.0


async def test_initiative_cycle_team_and_alignment_events(api: Api, engine: AsyncEngine) -> None:
    ids = await factories.okr(api)
    initiative = await factories.initiative(api, ids["team"])
    await api.ok("updateInitiative", {"id": initiative, "status": "IN_PROGRESS"})
    await api.ok(
        "linkInitiative",
        {"initiativeId": initiative, "keyResultId": ids["key_result"], "expectedImpact": 4},
    )
    await api.ok("unlinkInitiative", {"initiativeId": initiative, "keyResultId": ids["key_result"]})
    rows = await of(engine, api, initiative)
    assert types(rows) == [
        "initiative.created",
        "initiative.updated",
        "initiative.status_changed",
        "initiative.linked",
        "initiative.unlinked",
    ]
    assert rows[2]["data"]["changes"] == {"status": {"from": "PROPOSED", "to": "IN_PROGRESS"}}

    await api.ok("updateCycle", {"id": ids["cycle"], "state": "ACTIVE"})
    cycle_rows = await of(engine, api, ids["cycle"])
    assert types(cycle_rows) == ["cycle.created", "cycle.updated", "cycle.state_changed"]
    assert cycle_rows[2]["data"]["changes"] == {"state": {"from": "PLANNING", "to": "ACTIVE"}}

    await api.ok("updateTeam", {"id": ids["team"], "name": "Renamed"})
    team_rows = await of(engine, api, ids["team"])
    assert types(team_rows) == ["team.created", "team.updated"]
    assert team_rows[1]["data"]["changes"] == {"name": {"from": "Team", "to": "Renamed"}}

    child = await factories.objective(api, ids["team"], ids["cycle"], "Child")
    payload = await api.ok(
        "createAlignment", {"sourceObjectiveId": child, "targetObjectiveId": ids["objective"]}
    )
    link = payload["alignment"]["id"]
    await api.ok("deleteAlignment", {"id": link})
    link_rows = await of(engine, api, link)
    assert types(link_rows) == ["alignment.created", "alignment.deleted"]
    assert link_rows[0]["data"]["object"]["sourceObjectiveId"] == child
    assert link_rows[0]["data"]["object"]["targetObjectiveId"] == ids["objective"]


async def test_a_refused_mutation_writes_no_event(api: Api, engine: AsyncEngine) -> None:
    ids = await factories.okr(api)
    before = await events(engine, api.organization_id)
    await refused(api, engine, "updateObjective", {"id": ids["objective"], "title": ""}, "REQUIRED")
    await refused(
        api,
        engine,
        "recordCheckIn",
        {"keyResultId": ids["key_result"], "value": 1, "confidence": 3},
        "OUT_OF_RANGE",
    )
    assert await events(engine, api.organization_id) == before


async def test_two_mutations_keep_the_first_and_drop_the_failed_second(
    api: Api, engine: AsyncEngine
) -> None:
    before = await db_state(engine, api.organization_id)
    data = await api.query(
        'mutation { first: createTeam(input: {name: "Kept"})'
        " { team { id name } userErrors { code } }"
        ' second: createTeam(input: {name: "  "}) { team { id } userErrors { code field } } }'
    )
    assert data["first"]["userErrors"] == []
    assert data["second"] == {"team": None, "userErrors": [{"code": "REQUIRED", "field": ["name"]}]}
    teams = await api.query("{ teams { edges { node { id name } } } }")
    assert teams["teams"]["edges"] == [{"node": data["first"]["team"]}]
    rows = await events(engine, api.organization_id)
    assert [(row["type"], row["subject_id"]) for row in rows] == [
        ("team.created", uuid_of(data["first"]["team"]["id"]))
    ]
    after = await db_state(engine, api.organization_id)
    assert {table for table in after if after[table] != before[table]} == {"teams", "events"}


async def test_a_failing_first_mutation_does_not_block_the_second(
    api: Api, engine: AsyncEngine
) -> None:
    ids = await factories.okr(api)
    data = await api.query(
        "mutation($kr: ID!) {"
        " bad: recordCheckIn(input: {keyResultId: $kr, value: 1, confidence: 2})"
        " { checkIn { id } userErrors { code } }"
        " good: recordCheckIn(input: {keyResultId: $kr, value: 13})"
        " { checkIn { value } userErrors { code } } }",
        {"kr": ids["key_result"]},
    )
    assert data["bad"] == {"checkIn": None, "userErrors": [{"code": "OUT_OF_RANGE"}]}
    assert data["good"] == {"checkIn": {"value": 13.0}, "userErrors": []}
    assert types(await of(engine, api, ids["key_result"])).count("key_result.checked_in") == 1
