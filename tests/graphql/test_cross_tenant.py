"""Nothing crosses organizations: another tenant's IDs behave exactly as unknown IDs."""

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Api
from tests.graphql.support import MUTATIONS, db_state, gid, mutation_inputs, node, world

TYPES = {
    "team": "Team",
    "cycle": "Cycle",
    "objective": "Objective",
    "objective2": "Objective",
    "key_result": "KeyResult",
    "initiative": "Initiative",
    "alignment": "AlignmentLink",
}


def unknown(ids: dict[str, str]) -> dict[str, str]:
    """IDs of the same types that exist nowhere."""
    return {key: gid(TYPES[key]) for key in ids}


async def test_nodes_of_another_organization_are_null(api: Api, other_api: Api) -> None:
    ids = await world(other_api)
    check_in = await other_api.ok(
        "recordCheckIn", {"keyResultId": ids["key_result"], "value": 12}, "checkIn { id }"
    )
    for id_ in [*ids.values(), check_in["checkIn"]["id"]]:
        assert await node(api, id_, "id") is None
        assert await node(other_api, id_, "id") == {"id": id_}


async def test_lists_never_show_another_organization(api: Api, other_api: Api) -> None:
    await world(other_api)
    data = await api.query(
        "{ teams { edges { node { id } } } cycles { edges { node { id } } }"
        " objectives { edges { node { id } } } keyResults { edges { node { id } } }"
        " initiatives { edges { node { id } } } alignmentLinks { edges { node { id } } } }"
    )
    assert data == {name: {"edges": []} for name in data}
    assert len(data) == 6


@pytest.mark.parametrize(
    ("query", "variable"),
    [
        ("objectives(filter: {teamId: $id})", "team"),
        ("objectives(filter: {cycleId: $id})", "cycle"),
        ("keyResults(filter: {objectiveId: $id})", "objective"),
        ("keyResults(filter: {teamId: $id})", "team"),
        ("initiatives(filter: {teamId: $id})", "team"),
        ("teams(parentId: $id)", "team"),
    ],
)
async def test_filters_by_another_organizations_ids_find_nothing(
    api: Api, other_api: Api, query: str, variable: str
) -> None:
    ids = await world(other_api)
    await world(api)  # data of its own, which the foreign filter must not match either
    await other_api.ok("createTeam", {"name": "Child", "parentId": ids["team"]})
    data = await api.query(
        f"query($id: ID!) {{ found: {query} {{ edges {{ node {{ id }} }} }} }}",
        {"id": ids[variable]},
    )
    assert data["found"]["edges"] == []
    theirs = await other_api.query(
        f"query($id: ID!) {{ found: {query} {{ edges {{ node {{ id }} }} }} }}",
        {"id": ids[variable]},
    )
    assert theirs["found"]["edges"] != []


@pytest.mark.parametrize("name", MUTATIONS)
async def test_mutations_with_another_organizations_ids_are_not_found(
    api: Api, other_api: Api, engine: AsyncEngine, name: str
) -> None:
    foreign = await world(other_api)
    before = (
        await db_state(engine, api.organization_id),
        await db_state(engine, other_api.organization_id),
    )

    errors = await api.user_errors(name, mutation_inputs(foreign)[name])
    assert [error["code"] for error in errors] == ["NOT_FOUND"]
    assert errors == await api.user_errors(name, mutation_inputs(unknown(foreign))[name])

    after = (
        await db_state(engine, api.organization_id),
        await db_state(engine, other_api.organization_id),
    )
    assert after == before


async def test_an_update_cannot_move_a_row_into_another_organizations_parent(
    api: Api, other_api: Api, engine: AsyncEngine
) -> None:
    mine, foreign = await world(api), await world(other_api)
    before = await db_state(engine, api.organization_id)
    moves: list[tuple[str, dict[str, Any], list[str]]] = [
        ("updateTeam", {"id": mine["team"], "parentId": foreign["team"]}, ["parentId"]),
        ("updateCycle", {"id": mine["cycle"], "parentId": foreign["cycle"]}, ["parentId"]),
        ("updateObjective", {"id": mine["objective"], "teamId": foreign["team"]}, ["teamId"]),
        ("updateObjective", {"id": mine["objective"], "cycleId": foreign["cycle"]}, ["cycleId"]),
        ("updateKeyResult", {"id": mine["key_result"], "teamId": foreign["team"]}, ["teamId"]),
        ("updateInitiative", {"id": mine["initiative"], "teamId": foreign["team"]}, ["teamId"]),
        (
            "linkInitiative",
            {"initiativeId": mine["initiative"], "keyResultId": foreign["key_result"]},
            ["keyResultId"],
        ),
        (
            "createAlignment",
            {"sourceObjectiveId": mine["objective"], "targetObjectiveId": foreign["objective"]},
            ["targetObjectiveId"],
        ),
        (
            "createAlignment",
            {"sourceObjectiveId": mine["objective"], "targetKeyResultId": foreign["key_result"]},
            ["targetKeyResultId"],
        ),
        (
            "createKeyResult",
            {
                "objectiveId": mine["objective"],
                "title": "T",
                "targetValue": 5,
                "teamId": foreign["team"],
            },
            ["teamId"],
        ),
    ]
    for name, input_, field in moves:
        errors = await api.user_errors(name, input_)
        assert [(error["code"], error["field"]) for error in errors] == [("NOT_FOUND", field)], name
    assert await db_state(engine, api.organization_id) == before
