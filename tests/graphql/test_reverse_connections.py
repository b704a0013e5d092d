"""The lists that grow with the organization are connections: an objective's contributors,
dependents and incoming links, a key result's contributors, a report's at-risk key results
and the cycle's warnings. Each pages with `first`/`after` (capped at the largest page),
counts with `totalCount`, and refuses bad cursors with INVALID_ID."""

import base64
from typing import Any

import pytest

from tests import factories
from tests.conftest import Api
from tests.graphql.support import node
from tests.reports.support import check_in, contributes, cycle

PAGE = "totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id } }"


async def objectives(api: Api, count: int, cycle_id: str | None = None) -> list[str]:
    team = await factories.team(api)
    cycle_id = cycle_id or await factories.cycle(api)
    return [await factories.objective(api, team, cycle_id, f"Objective {n}") for n in range(count)]


async def all_pages(api: Api, id_: str, field: str, size: int) -> tuple[list[str], list[int]]:
    """Every item of `field` of node `id_`, read `size` at a time, and each page's total."""
    items: list[str] = []
    totals: list[int] = []
    after = None
    while True:
        found = await api.query(
            f"query($id: ID!, $first: Int, $after: String) {{ node(id: $id) {{ ... on Objective"
            f" {{ {field}(first: $first, after: $after) {{ {PAGE} }} }} }} }}",
            {"id": id_, "first": size, "after": after},
        )
        page = found["node"][field]
        items += [edge["node"]["id"] for edge in page["edges"]]
        totals.append(page["totalCount"])
        if not page["pageInfo"]["hasNextPage"]:
            return items, totals
        after = page["pageInfo"]["endCursor"]


async def test_contributors_page_through_each_once(api: Api) -> None:
    parent, *children = await objectives(api, 5)
    kr = await factories.key_result(api, parent)
    await contributes(api, children[0], objective=parent)
    await contributes(api, children[1], key_result=kr)
    await contributes(api, children[2], objective=parent)
    await contributes(api, children[2], key_result=kr)  # both ways: one contributor
    await contributes(api, children[3], key_result=kr)

    items, totals = await all_pages(api, parent, "contributors", 2)

    assert items == children  # oldest first, each once
    assert totals == [4, 4]
    key_result = await node(
        api, kr, "... on KeyResult { contributors(first: 1) { totalCount edges { node { id } } } }"
    )
    assert key_result["contributors"] == {
        "totalCount": 3,
        "edges": [{"node": {"id": children[1]}}],
    }


async def test_dependents_and_incoming_links_page(api: Api) -> None:
    blocker, *others = await objectives(api, 4)
    for other in others:
        await api.ok(
            "createAlignment",
            {"sourceObjectiveId": other, "targetObjectiveId": blocker, "kind": "DEPENDS_ON"},
        )
    await contributes(api, others[0], objective=blocker)

    dependents, totals = await all_pages(api, blocker, "dependents", 2)
    assert dependents == others
    assert totals == [3, 3]
    incoming, totals = await all_pages(api, blocker, "incomingAlignmentLinks", 3)
    assert len(incoming) == 4  # three DEPENDS_ON links and one CONTRIBUTES_TO
    assert totals == [4, 4]


FIELDS = ["contributors", "dependents", "incomingAlignmentLinks"]


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("first", [101, -1])
async def test_a_page_beyond_the_largest_is_refused(api: Api, field: str, first: int) -> None:
    [objective] = await objectives(api, 1)
    errors = await api.errors(
        f"query($id: ID!) {{ node(id: $id) {{ ... on Objective"
        f" {{ {field}(first: {first}) {{ totalCount }} }} }} }}",
        {"id": objective},
    )
    assert [error["extensions"] for error in errors] == [
        {"code": "OUT_OF_RANGE", "field": ["first"]}
    ]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


BAD_CURSORS = [
    "garbage",
    "",
    b64("cursor:not-a-uuid"),
    b64("position:1"),  # a report's cursor is no place in a table's list
]


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("cursor", BAD_CURSORS)
async def test_a_bad_cursor_is_an_invalid_id_error(api: Api, field: str, cursor: str) -> None:
    [objective] = await objectives(api, 1)
    errors = await api.errors(
        f"query($id: ID!, $after: String) {{ node(id: $id) {{ ... on Objective"
        f" {{ {field}(after: $after) {{ totalCount }} }} }} }}",
        {"id": objective, "after": cursor},
    )
    assert [error["extensions"]["code"] for error in errors] == ["INVALID_ID"]


async def lagging_cycle(api: Api, count: int) -> str:
    """A cycle half gone, with `count` key results still at their start (behind)."""
    cycle_id = await cycle(api, "Quarter", -45, 45)
    for objective in await objectives(api, count, cycle_id):
        kr = await factories.key_result(api, objective, "Raise activation", 0, 10)
        await check_in(api, kr, 0)
    return cycle_id


async def report_page(api: Api, cycle_id: str, first: int, after: str | None) -> dict[str, Any]:
    data = await api.query(
        "query($c: ID!, $first: Int, $after: String) { cycleReport(cycleId: $c) {"
        f" atRiskCount offTrackCount atRisk(first: $first, after: $after) {{ {PAGE} }} }} }}",
        {"c": cycle_id, "first": first, "after": after},
    )
    report: dict[str, Any] = data["cycleReport"]
    return report


async def test_at_risk_key_results_page_in_the_reports_order(api: Api) -> None:
    cycle_id = await lagging_cycle(api, 3)
    whole = await report_page(api, cycle_id, 100, None)
    assert whole["atRiskCount"] + whole["offTrackCount"] == 3
    order = [edge["node"]["id"] for edge in whole["atRisk"]["edges"]]

    first = await report_page(api, cycle_id, 2, None)
    assert first["atRisk"]["totalCount"] == 3
    assert first["atRisk"]["pageInfo"]["hasNextPage"] is True
    rest = await report_page(api, cycle_id, 2, first["atRisk"]["pageInfo"]["endCursor"])
    assert rest["atRisk"]["pageInfo"]["hasNextPage"] is False
    paged = [edge["node"]["id"] for page in (first, rest) for edge in page["atRisk"]["edges"]]
    assert paged == order
    # A place past the end is an empty page, not an error.
    beyond = await report_page(api, cycle_id, 2, b64("position:999"))
    assert beyond["atRisk"]["edges"] == []
    assert beyond["atRisk"]["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        b64("position:-1"),
        b64("position:1e3"),
        b64("position:٣"),  # a digit, but not an ASCII one
        b64("position:" + "9" * 40),
        b64("cursor:0190b3a2-0000-7000-8000-000000000000"),
    ],
)
async def test_a_bad_report_cursor_is_an_invalid_id_error(api: Api, cursor: str) -> None:
    cycle_id = await cycle(api, "Quarter", -45, 45)
    for query in (
        "query($c: ID!, $a: String) { cycleReport(cycleId: $c) { atRisk(after: $a)"
        " { totalCount } } }",
        "query($c: ID!, $a: String) { okrChecks(cycleId: $c, after: $a) { totalCount } }",
    ):
        errors = await api.errors(query, {"c": cycle_id, "a": cursor})
        assert [error["extensions"] for error in errors] == [
            {"code": "INVALID_ID", "field": ["after"]}
        ]


async def test_okr_checks_page(api: Api) -> None:
    cycle_id = await cycle(api, "Quarter", -45, 45)
    await objectives(api, 3, cycle_id)  # each without key results: one warning each at least
    query = (
        "query($c: ID!, $first: Int, $after: String) { okrChecks(cycleId: $c, first: $first,"
        " after: $after) { totalCount pageInfo { hasNextPage endCursor }"
        " edges { cursor node { code subjectId } } } }"
    )
    whole = (await api.query(query, {"c": cycle_id, "first": 100}))["okrChecks"]
    total = whole["totalCount"]
    assert total == len(whole["edges"]) >= 3

    seen: list[Any] = []
    after = None
    while True:
        page = (await api.query(query, {"c": cycle_id, "first": 2, "after": after}))["okrChecks"]
        assert page["totalCount"] == total
        assert len(page["edges"]) <= 2
        seen += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [edge["node"] for edge in whole["edges"]]
    errors = await api.errors(query, {"c": cycle_id, "first": 101})
    assert [error["extensions"] for error in errors] == [
        {"code": "OUT_OF_RANGE", "field": ["first"]}
    ]
