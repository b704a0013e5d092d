"""The compiled read path answers exactly as Strawberry does.

The test app runs with `query_planner_verify`: every query the suite sends that the compiled
path serves is also run through Strawberry, and any difference fails the request. The
tests here make sure the hot reads are really served (not silently left to Strawberry),
and generate queries from the committed schema to look for differences nobody wrote a
test for (`OKR_PROPERTY_EXAMPLES` raises the example count for a longer hunt).
"""

import os
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi import FastAPI
from graphql import StringValueNode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import queries

from service.graphql.planner import CompiledReads
from tests import factories
from tests.conftest import Api, StatementCounter
from tests.webhooks.conftest import settings_changed

SCHEMA = (Path(__file__).resolve().parents[2] / "schema" / "schema.graphql").read_text()
EXAMPLES = int(os.environ.get("OKR_PROPERTY_EXAMPLES", "40"))

OBJECTIVE_FIELDS = """
  id title description owner kind state health healthReason progressMode createdAt
  progress score expectedProgress
  team { id name } cycle { id name startsOn endsOn state }
  keyResults {
    id title metric unit direction startValue targetValue currentValue weight confidence
    health progress achieved score expectedProgress impactCoverage
    latestCheckIn { id value health confidence note checkedAt }
    initiativeLinks { expectedImpact initiative { id title status impact confidence ease } }
  }
  contributesTo { __typename id ... on Objective { title } ... on KeyResult { title } }
"""
PAGE = (
    "query Page($cycle: ID!, $first: Int!) { objectives(filter: {cycleId: $cycle}, first: $first)"
    " { pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node {"
    f" ...O }} }} }} }} fragment O on Objective {{{OBJECTIVE_FIELDS}}}"
)
NODE = (
    "query Node($id: ID!) { node(id: $id) { __typename id ... on Objective { title health }"
    " ... on KeyResult { title progress } ... on Team { name } } }"
)


def served_since(before: int) -> int:
    return CompiledReads.answered - before


async def organisation(api: Api, size: int) -> dict[str, Any]:
    """`size` objectives in one cycle, each with two key results (checked in, one with an
    open bet), the second and later contributing to the first's key result."""
    team = await factories.team(api, "Product")
    cycle = await factories.cycle(api)
    objectives, key_results = [], []
    for n in range(size):
        objective = await factories.objective(api, team, cycle, f"O{n}")
        kr = await factories.key_result(api, objective, f"K{n}")
        await factories.key_result(api, objective, f"L{n}", 20, 10, direction="DECREASE")
        await api.ok("recordCheckIn", {"keyResultId": kr, "value": 12 + n}, "checkIn { id }")
        objectives.append(objective)
        key_results.append(kr)
    bet = await factories.initiative(api, team, "Tour", status="PLANNED")
    await api.ok(
        "linkInitiative",
        {"initiativeId": bet, "keyResultId": key_results[0], "expectedImpact": 4},
    )
    for objective in objectives[1:]:
        await api.ok(
            "createAlignment",
            {"sourceObjectiveId": objective, "targetKeyResultId": key_results[0]},
        )
    return {"team": team, "cycle": cycle, "objectives": objectives, "key_results": key_results}


async def test_a_page_of_objectives_is_compiled_in_a_fixed_number_of_statements(
    api: Api, sql_statements: StatementCounter
) -> None:
    ids = await organisation(api, 6)
    counts = []
    for first in (2, 6):
        before, statements = CompiledReads.answered, sql_statements.count
        data = await api.query(PAGE, {"cycle": ids["cycle"], "first": first})
        assert served_since(before) == 1
        counts.append(sql_statements.count - statements)
        nodes = [edge["node"] for edge in data["objectives"]["edges"]]
        assert [node["id"] for node in nodes] == ids["objectives"][:first]
    assert nodes[1]["contributesTo"] == [
        {"__typename": "KeyResult", "id": ids["key_results"][0], "title": "K0"}
    ]
    assert nodes[0]["keyResults"][0]["impactCoverage"] == pytest.approx(4 / 8)  # 20 - 12
    assert counts[0] == counts[1]  # whatever the page size


async def test_node_lookups_are_compiled(api: Api) -> None:
    ids = await organisation(api, 1)
    before = CompiledReads.answered
    for id_ in (ids["objectives"][0], ids["key_results"][0], ids["team"]):
        found = (await api.query(NODE, {"id": id_}))["node"]
        assert found["id"] == id_
    assert served_since(before) == 3
    missing = await api.query(NODE, {"id": ids["objectives"][0][:-4] + "AAA="})
    assert missing["node"] is None


async def test_what_it_does_not_serve_runs_whole_through_strawberry(api: Api) -> None:
    ids = await organisation(api, 1)
    before = CompiledReads.answered
    data = await api.query(
        "query($c: ID!) { objectives(filter: {cycleId: $c}) { edges { node { title"
        " checks { code } } } } }",
        {"c": ids["cycle"]},
    )
    assert served_since(before) == 0  # `checks` is not compiled: none of it is
    assert data["objectives"]["edges"][0]["node"]["title"] == "O0"
    errors = await api.errors(
        "query($c: ID!) { objectives(filter: {cycleId: $c}, first: 1000) { edges { cursor } } }",
        {"c": ids["cycle"]},
    )
    assert errors[0]["extensions"]["code"] == "OUT_OF_RANGE"  # in Strawberry's words


async def test_the_path_can_be_turned_off(api: Api, app: FastAPI) -> None:
    ids = await organisation(api, 1)
    with settings_changed(app, query_planner=False):
        before = CompiledReads.answered
        await api.query(PAGE, {"cycle": ids["cycle"], "first": 1})
        assert served_since(before) == 0


ROOTS = ["objectives", "keyResults", "teams", "cycles", "initiatives", "alignmentLinks", "node"]
SEEDED: dict[UUID, dict[str, Any]] = {}


@pytest.mark.parametrize(
    ("root", "query"),
    [
        ("keyResults", "{ keyResults(first: 3) { edges { node { id title health progress } } } }"),
        ("teams", "{ teams { edges { node { id name parent { id name } } } } }"),
        ("cycles", "{ cycles { edges { node { id name state parent { id } } } } }"),
        ("initiatives", "{ initiatives { edges { node { id iceScore team { id } } } } }"),
        (
            "alignmentLinks",
            "{ alignmentLinks { edges { node { kind source { id } targetKeyResult { id } } } } }",
        ),
    ],
)
async def test_every_root_it_serves_is_compiled(api: Api, root: str, query: str) -> None:
    await organisation(api, 2)
    before = CompiledReads.answered
    data = await api.query(query)
    assert served_since(before) == 1
    assert data[root]["edges"]


@pytest.mark.parametrize("root", ROOTS)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
async def test_generated_queries_get_one_answer(api: Api, root: str, data: st.DataObject) -> None:
    """Queries generated from the schema, on a small organisation: wherever the compiled
    path answers, Strawberry (run beside it in verify mode) answers the same."""
    if api.organization_id not in SEEDED:  # once per test, not per example
        SEEDED[api.organization_id] = await organisation(api, 3)
    ids = SEEDED[api.organization_id]
    # IDs drawn from the organisation's own objects (random ones would only be refused).
    known = [ids["team"], ids["cycle"], *ids["objectives"], *ids["key_results"]]
    id_values = st.sampled_from(known).map(lambda id_: StringValueNode(value=id_))
    query = data.draw(queries(SCHEMA, fields=[root], custom_scalars={"ID": id_values}))
    body = (await api.post(query)).json()
    codes = {(error.get("extensions") or {}).get("code") for error in body.get("errors", [])}
    assert "INTERNAL_SERVER_ERROR" not in codes, (query, body)  # a difference would be one


async def test_objectives_contributing_to_objectives_on_the_same_page_are_served(
    api: Api,
) -> None:
    """The targets were read already (as the page's rows): `contributesTo` still names
    their type, and the answer is compiled, not handed to the reference path."""
    ids = await organisation(api, 3)
    first, second = ids["objectives"][:2]
    await api.ok("createAlignment", {"sourceObjectiveId": second, "targetObjectiveId": first})
    before = CompiledReads.answered
    data = await api.query(PAGE, {"cycle": ids["cycle"], "first": 3})
    assert served_since(before) == 1
    nodes = [edge["node"] for edge in data["objectives"]["edges"]]
    assert nodes[1]["contributesTo"] == [
        {"__typename": "Objective", "id": first, "title": "O0"},
        {"__typename": "KeyResult", "id": ids["key_results"][0], "title": "K0"},
    ]
