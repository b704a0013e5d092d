"""One object's audit trail: every change, by whom, from what to what, oldest first."""

from tests import factories
from tests.conftest import Api

TRAIL = (
    "query($id: ID!, $after: String) { events(subjectId: $id, first: 2, after: $after) {"
    " pageInfo { hasNextPage endCursor }"
    " edges { node { type sequence subjectId actor changes } } } }"
)


async def test_the_trail_of_an_objective_lists_each_change_in_order(
    api: Api, other_api: Api
) -> None:
    team = await factories.team(api)
    objective = await factories.objective(api, team, await factories.cycle(api))
    await api.ok("updateObjective", {"id": objective, "title": "Sharper title"})
    await api.ok("updateObjective", {"id": objective, "state": "ACTIVE"})

    first = (await api.query(TRAIL, {"id": objective}))["events"]
    rest = (await api.query(TRAIL, {"id": objective, "after": first["pageInfo"]["endCursor"]}))[
        "events"
    ]
    nodes = [edge["node"] for edge in first["edges"] + rest["edges"]]
    assert first["pageInfo"]["hasNextPage"] is True
    assert [(n["type"], n["sequence"]) for n in nodes] == [
        ("objective.created", 1),
        ("objective.updated", 2),
        ("objective.updated", 3),
        ("objective.state_changed", 4),
    ]
    assert {n["subjectId"] for n in nodes} == {objective}
    assert nodes[1]["changes"] == {
        "title": {"from": "Delight new customers", "to": "Sharper title"}
    }
    assert nodes[3]["changes"] == {"state": {"from": "DRAFT", "to": "ACTIVE"}}
    assert nodes[1]["actor"]["name"] == "admin"
    assert nodes[1]["actor"]["type"] == "api_key"

    foreign = await other_api.query(TRAIL, {"id": objective})
    assert foreign["events"]["edges"] == []
