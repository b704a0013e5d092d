"""Nested reads cost a fixed number of statements, whatever the number of objectives."""

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI

from tests import factories
from tests.conftest import Api, StatementCounter, new_organization

T = TypeVar("T")

TREE = """
{ objectives(first: 100) { edges { node {
    id title team { id name } cycle { id name }
    initiatives { id }
    contributesTo { id title } contributors(first: 100) { totalCount edges { node { id } } }
    dependsOn { id } dependents { totalCount edges { node { id } } } relatedTo { id }
    alignmentLinks { kind targetObjective { id title } targetKeyResult { id title } }
    incomingAlignmentLinks { totalCount edges { node { source { id } } } }
    keyResults {
      id team { id } latestCheckIn { value } checkIns { edges { node { value } } }
      initiatives { id team { name } } initiativeLinks { expectedImpact keyResult { id } }
      contributors(first: 100) { edges { node { id } } }
    }
} } } }
"""


async def gather(calls: list[Awaitable[T]], width: int = 8) -> list[T]:
    gate = asyncio.Semaphore(width)

    async def one(call: Awaitable[T]) -> T:
        async with gate:
            return await call

    return list(await asyncio.gather(*(one(call) for call in calls)))


async def organization(
    app: FastAPI, http: httpx.AsyncClient, size: int
) -> tuple[Api, list[str], list[str]]:
    """`size` objectives, each with two KRs (one shared), check-ins, an initiative and links."""
    organization_id, key = await new_organization(app)
    api = Api(http, organization_id, key)
    team, other = await factories.team(api, "Product"), await factories.team(api, "Sales")
    cycle = await factories.cycle(api)
    objectives = [await factories.objective(api, team, cycle, f"O{n}") for n in range(size)]
    krs = await gather([factories.key_result(api, o, "A") for o in objectives])
    shared = await gather([factories.key_result(api, o, "B", teamId=other) for o in objectives])

    async def check_ins(kr: str) -> None:
        for value in (12, 14):  # in turn: two at once could be timed either way round
            await api.ok("recordCheckIn", {"keyResultId": kr, "value": value}, "checkIn { id }")

    await gather([check_ins(kr) for kr in krs])
    initiatives = await gather([factories.initiative(api, team, f"I{n}") for n in range(size)])
    await gather(
        [
            api.ok("linkInitiative", {"initiativeId": i, "keyResultId": kr, "expectedImpact": 2})
            for i, kr_a, kr_b in zip(initiatives, krs, shared, strict=True)
            for kr in (kr_a, kr_b)
        ]
    )
    links: list[dict[str, Any]] = []
    for n in range(1, size):
        source = objectives[n]
        links += [
            {"sourceObjectiveId": source, "targetKeyResultId": krs[0]},
            {
                "sourceObjectiveId": source,
                "kind": "DEPENDS_ON",
                "targetObjectiveId": objectives[n - 1],
            },
            {
                "sourceObjectiveId": source,
                "kind": "RELATES_TO",
                "targetObjectiveId": objectives[(n + 2) % size],
            },
        ]
    await gather([api.ok("createAlignment", link) for link in links])
    return api, objectives, krs


async def statements_for(api: Api, counter: StatementCounter) -> tuple[int, dict[str, Any]]:
    start = counter.count
    data = await api.query(TREE)
    return counter.count - start, data


async def test_nested_objective_tree_costs_the_same_for_10_and_100_objectives(
    app: FastAPI, http: httpx.AsyncClient, sql_statements: StatementCounter
) -> None:
    small, _, _ = await organization(app, http, 10)
    large, objectives, krs = await organization(app, http, 100)
    small_count, small_data = await statements_for(small, sql_statements)
    large_count, large_data = await statements_for(large, sql_statements)
    print(f"statements for 10 objectives: {small_count}, for 100 objectives: {large_count}")

    assert len(small_data["objectives"]["edges"]) == 10
    nodes = {edge["node"]["id"]: edge["node"] for edge in large_data["objectives"]["edges"]}
    assert list(nodes) == objectives
    first, last = nodes[objectives[0]], nodes[objectives[-1]]
    assert [kr["latestCheckIn"] for kr in last["keyResults"]] == [{"value": 14.0}, None]
    assert [[edge["node"] for edge in kr["checkIns"]["edges"]] for kr in last["keyResults"]] == [
        [{"value": 14.0}, {"value": 12.0}],
        [],
    ]
    assert len(last["initiatives"]) == 1
    assert sorted(link["kind"] for link in last["alignmentLinks"]) == [
        "CONTRIBUTES_TO",
        "DEPENDS_ON",
        "RELATES_TO",
    ]
    assert last["contributesTo"] == [{"id": krs[0], "title": "A"}]
    assert last["dependsOn"] == [{"id": objectives[98]}]
    assert {o["id"] for o in last["relatedTo"]} == {objectives[1], objectives[97]}
    assert len(first["contributors"]["edges"]) == 99  # through its key result
    assert first["contributors"]["totalCount"] == 99
    assert len(first["keyResults"][0]["contributors"]["edges"]) == 99
    assert first["dependents"] == {"totalCount": 1, "edges": [{"node": {"id": objectives[1]}}]}
    assert last["incomingAlignmentLinks"]["totalCount"] == 1  # RELATES_TO from objectives[97]
    assert small_count == large_count
    assert large_count <= 25
