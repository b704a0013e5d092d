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

from okr_service.graphql.planner import CompiledReads
from tests import factories
from tests.conftest import Api, StatementCounter
from tests.reports.support import check_in, contributes
from tests.reports.support import cycle as report_cycle
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
    # asyncpg learns the types of nested rows (enum columns in records) once per
    # connection, with catalog queries of its own: done before counting.
    await api.query(PAGE, {"cycle": ids["cycle"], "first": 1})
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


async def compiled_reads(
    api: Api, app: FastAPI, sql_statements: StatementCounter, query: str, variables: Any
) -> list[str]:
    """The statements the compiled path reads `query` with (after the key lookup and the
    tenant switch), its answer checked against Strawberry's."""
    with settings_changed(app, query_planner=False):
        reference = await api.query(query, variables)
    with settings_changed(app, query_planner_verify=False):
        await api.query(query, variables)  # the driver learns the nested rows' types
        before = sql_statements.count
        answered = await api.query(query, variables)
    assert answered == reference
    return [
        statement
        for statement in sql_statements.statements[before:]
        if "api_keys" not in statement and "set_config" not in statement
    ]


async def test_an_objective_read_by_id_with_its_figures_takes_one_statement(
    api: Api, app: FastAPI, sql_statements: StatementCounter
) -> None:
    """Its health and progress need its key results and its cycle: read with it."""
    ids = await organisation(api, 1)
    query = (
        "query($id: ID!) { node(id: $id) { ... on Objective { title health progress"
        " expectedProgress cycle { name } keyResults { title progress } } } }"
    )
    variables = {"id": ids["objectives"][0]}
    reads = await compiled_reads(api, app, sql_statements, query, variables)
    assert len(reads) == 1, reads  # not the objective, then its key results, then its cycle
    assert "key_results" in reads[0]
    assert "cycles" in reads[0]


async def test_a_key_results_latest_check_in_and_links_are_read_in_one_statement(
    api: Api, app: FastAPI, sql_statements: StatementCounter
) -> None:
    ids = await organisation(api, 2)
    query = (
        "query($c: ID!) { objectives(filter: {cycleId: $c}) { edges { node { keyResults {"
        " latestCheckIn { value } initiativeLinks { expectedImpact initiative { title } } } } } } }"
    )
    variables = {"c": ids["cycle"]}
    reads = await compiled_reads(api, app, sql_statements, query, variables)
    # The page, its key results, their check-ins and links together, the initiatives.
    assert len(reads) == 4, reads
    assert "check_ins" in reads[2]
    assert "initiative_key_results" in reads[2]


async def test_the_links_an_objective_starts_are_read_with_its_figure_inputs(
    api: Api, app: FastAPI, sql_statements: StatementCounter
) -> None:
    ids = await organisation(api, 3)
    query = (
        "query($c: ID!) { objectives(filter: {cycleId: $c}) { edges { node { health"
        " contributesTo { __typename id } alignmentLinks { kind } } } } }"
    )
    variables = {"c": ids["cycle"]}
    reads = await compiled_reads(api, app, sql_statements, query, variables)
    fused = [statement for statement in reads if "alignment_links a" in statement]
    assert len(fused) == 1, reads
    assert "key_results k" in fused[0]
    assert not [statement for statement in reads if 'FROM "alignment_links"' in statement]


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


SWITCHED = (
    "query($cycle: ID!, $details: Boolean!, $brief: Boolean!) {"
    " objectives(filter: {cycleId: $cycle}) { edges { node {"
    " id title @skip(if: $brief) ...Details @include(if: $details) } } } }"
    " fragment Details on Objective { health keyResults { title } }"
)


async def test_skip_and_include_follow_each_requests_variables(api: Api) -> None:
    """One document, the variables of its @skip and @include changing from request to
    request: each answer has what its own variables keep (as the reference's: verify mode)."""
    ids = await organisation(api, 1)
    before = CompiledReads.answered
    nodes = []
    for details, brief in ((True, False), (False, True), (True, False)):
        variables = {"cycle": ids["cycle"], "details": details, "brief": brief}
        nodes.append((await api.query(SWITCHED, variables))["objectives"]["edges"][0]["node"])
    assert served_since(before) == 3
    assert list(nodes[0]) == ["id", "title", "health", "keyResults"]
    assert nodes[0]["keyResults"] == [{"title": "K0"}, {"title": "L0"}]
    assert list(nodes[1]) == ["id"]
    assert nodes[2] == nodes[0]


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


CONNECTIONS = """
query Tree($department: ID!, $year: ID!, $quarter: ID!, $teams: Int!, $first: Int,
           $after: String) {
  department: node(id: $department) { ... on Team { name
    children(first: $teams) { totalCount pageInfo { ...P } edges { cursor node { id name
      objectives(first: $first, after: $after) {
        totalCount pageInfo { ...P } edges { cursor node { ...O } } } } } } } }
  objectives(filter: {cycleId: $quarter}, first: $teams) { totalCount edges { node { id
    keyResults { id
      checkIns(first: 1) { totalCount pageInfo { ...P } edges { cursor node { id value } } }
      history { totalCount edges { cursor node { id value } } }
      contributors { totalCount edges { node { id } } } } } } }
  year: node(id: $year) { ... on Cycle { children { totalCount edges { node { id
    objectives(first: 1) { totalCount pageInfo { ...P } edges { cursor node { id } } } } } } } }
  cycleReport(cycleId: $quarter) {
    atRisk(first: 3) { totalCount pageInfo { ...P } edges { cursor node { id health } } } }
}
fragment P on PageInfo { hasNextPage hasPreviousPage startCursor endCursor }
fragment O on Objective { id title
  contributors(first: 2) { totalCount pageInfo { ...P } edges { cursor node { id } } }
  dependents { totalCount edges { cursor node { id } } }
  incomingAlignmentLinks(first: 1) { totalCount pageInfo { ...P } edges { cursor node { kind } } }
}
"""


async def team_tree(api: Api, teams: int = 4) -> dict[str, Any]:
    """A department of `teams` teams, each with two objectives (one key result each, at its
    start: at risk) in a quarter half gone; the first team's first objective has two
    contributors (one through its key result) and a dependent."""
    year = await report_cycle(api, "Year", -100, 200)
    quarter = await report_cycle(api, "Quarter", -45, 45, parent_id=year)
    department = await factories.team(api, "Department")
    objectives: list[list[str]] = []
    key_results: list[str] = []
    for n in range(teams):
        team = await factories.team(api, f"Team {n}", department)
        owned = [await factories.objective(api, team, quarter, f"O{n}.{m}") for m in range(2)]
        for objective in owned:
            key_results.append(await factories.key_result(api, objective, "Raise it", 0, 10))
        objectives.append(owned)
    for value in (0, 1):
        await check_in(api, key_results[0], value)
    hub = objectives[0][0]
    await contributes(api, objectives[1][0], objective=hub)
    await contributes(api, objectives[2][0], key_result=key_results[0])
    await api.ok(
        "createAlignment",
        {"sourceObjectiveId": objectives[1][1], "targetObjectiveId": hub, "kind": "DEPENDS_ON"},
    )
    return {"department": department, "year": year, "quarter": quarter, "hub": hub}


async def compiled_and_reference(
    api: Api, app: FastAPI, query: str, variables: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The compiled path's answer (which it must serve) and Strawberry's, each alone."""
    with settings_changed(app, query_planner_verify=False):
        before = CompiledReads.answered
        compiled = await api.query(query, variables)
        assert served_since(before) == 1
    with settings_changed(app, query_planner=False):
        reference = await api.query(query, variables)
    return compiled, reference


async def test_connections_below_the_root_are_compiled_in_a_fixed_number_of_statements(
    api: Api, app: FastAPI, sql_statements: StatementCounter
) -> None:
    ids = await team_tree(api)
    counts = []
    for teams in (2, 4):
        with settings_changed(app, query_planner_verify=False):
            before, statements = CompiledReads.answered, sql_statements.count
            data = await api.query(CONNECTIONS, {**ids, "teams": teams, "first": 2})
            assert served_since(before) == 1
            counts.append(sql_statements.count - statements)
    assert counts[0] == counts[1]  # whatever the number of parents
    children = data["department"]["children"]
    assert children["totalCount"] == 4
    assert [edge["node"]["name"] for edge in children["edges"]] == [f"Team {n}" for n in range(4)]
    hub = children["edges"][0]["node"]["objectives"]["edges"][0]["node"]
    assert hub["id"] == ids["hub"]
    assert hub["contributors"]["totalCount"] == 2  # one to the objective, one to its key result
    assert hub["dependents"]["totalCount"] == 1
    assert hub["incomingAlignmentLinks"]["totalCount"] == 2  # to the objective itself
    assert hub["incomingAlignmentLinks"]["pageInfo"]["hasNextPage"] is True
    [key_result] = data["objectives"]["edges"][0]["node"]["keyResults"]
    assert key_result["checkIns"]["totalCount"] == 2
    assert [edge["node"]["value"] for edge in key_result["history"]["edges"]] == [0, 1]
    assert key_result["contributors"]["totalCount"] == 1
    [quarter] = data["year"]["children"]["edges"]
    assert quarter["node"]["objectives"]["totalCount"] == 8
    assert data["cycleReport"]["atRisk"]["totalCount"] == 8


async def test_pages_below_the_root_are_strawberrys_pages(api: Api, app: FastAPI) -> None:
    """Page by page, the compiled answer is the reference one: nodes, cursors, page info
    and counts, at the start, after a cursor (another team's row included) and past the end."""
    ids = await team_tree(api, 3)
    variables = {**ids, "teams": 3, "first": 1}
    compiled, reference = await compiled_and_reference(api, app, CONNECTIONS, variables)
    assert compiled == reference
    teams = compiled["department"]["children"]["edges"]
    cursor = teams[0]["node"]["objectives"]["pageInfo"]["endCursor"]
    for after in (cursor, teams[2]["node"]["objectives"]["edges"][0]["cursor"]):
        compiled, reference = await compiled_and_reference(
            api, app, CONNECTIONS, {**variables, "after": after}
        )
        assert compiled == reference
    pages = compiled["department"]["children"]["edges"]
    assert pages[0]["node"]["objectives"]["pageInfo"]["hasPreviousPage"] is True
    assert pages[0]["node"]["objectives"]["totalCount"] == 2


@pytest.mark.parametrize(
    ("arguments", "code"),
    [("first: 101", "OUT_OF_RANGE"), ("first: -1", "OUT_OF_RANGE"), ('after: "x"', "INVALID_ID")],
)
async def test_bad_arguments_below_the_root_get_strawberrys_errors(
    api: Api, app: FastAPI, arguments: str, code: str
) -> None:
    ids = await organisation(api, 1)
    query = (
        f"query($team: ID!) {{ node(id: $team) {{ ... on Team {{ objectives({arguments})"
        " { totalCount edges { node { id } } } } } }"
    )
    before = CompiledReads.answered
    errors = await api.errors(query, {"team": ids["team"]})
    assert served_since(before) == 0
    with settings_changed(app, query_planner=False):
        assert errors == await api.errors(query, {"team": ids["team"]})
    assert errors[0]["extensions"]["code"] == code
