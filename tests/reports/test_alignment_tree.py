"""alignmentTree(rootId, depth): the cascade below an objective, crossing cycles.

The annual cycle runs from day -49 to day +50 (expected progress 0.5); the quarter inside it
from day -30 to day +9. Progress values are set by check-ins on 0 -> 10 key results.
"""

from typing import Any

import pytest

from okr_service.graphql.alignment import tree as alignment_tree
from tests import factories
from tests.conftest import Api
from tests.reports.support import approx, check_in, contributes, cycle

NODE = "objective { title } depth progress viaKeyResult { title }"


def selection(levels: int) -> str:
    """A node selection nesting `levels` levels of children."""
    found = NODE
    for _ in range(levels):
        found = f"{NODE} children {{ {found} }}"
    return found


async def tree(api: Api, root: str, depth: int, levels: int = 4) -> Any:
    data = await api.query(
        f"query($id: ID!, $d: Int!) {{ alignmentTree(rootId: $id, depth: $d) "
        f"{{ {selection(levels)} }} }}",
        {"id": root, "d": depth},
    )
    return data["alignmentTree"]


async def measured(
    api: Api, team: str, cycle_id: str, title: str, value: float, **fields: Any
) -> tuple[str, str]:
    """An objective with one 0 -> 10 key result checked in at `value`."""
    objective = await factories.objective(api, team, cycle_id, title, **fields)
    kr = await factories.key_result(api, objective, f"Raise {title.lower()} score", 0, 10)
    await check_in(api, kr, value)
    return objective, kr


def node(
    title: str, depth: int, progress: float | None, via: str | None, children: list[Any]
) -> dict[str, Any]:
    return {
        "objective": {"title": title},
        "depth": depth,
        "progress": progress,
        "viaKeyResult": None if via is None else {"title": via},
        "children": children,
    }


async def cascade(api: Api) -> dict[str, str]:
    """Annual company objective (ALIGNED) <- quarterly squad objectives <- their squads."""
    ids: dict[str, str] = {}
    acme = await factories.team(api, "Acme")
    squad = await factories.team(api, "Onboarding squad", acme)
    year = await cycle(api, "Year", -49, 50)
    quarter = await cycle(api, "Quarter", -30, 9, year)
    ids["root"], ids["root_kr"] = await measured(
        api, acme, year, "Adoption", 2, progressMode="BOTH"
    )
    # Quarterly objectives supporting the annual key result and objective: across cycles.
    ids["a"], ids["a_kr"] = await measured(api, squad, quarter, "Activation", 6)
    ids["b"], _ = await measured(api, squad, quarter, "Billing", 8)
    await contributes(api, ids["a"], key_result=ids["root_kr"])
    await contributes(api, ids["b"], objective=ids["root"])
    ids["a1"], ids["a1_kr"] = await measured(api, squad, quarter, "Accounts", 4)
    await contributes(api, ids["a1"], key_result=ids["a_kr"])
    ids["a1x"], _ = await measured(api, squad, quarter, "Exports", 10)
    await contributes(api, ids["a1x"], objective=ids["a1"])
    await api.ok("updateObjective", {"id": ids["a"], "progressMode": "ALIGNED"})
    return ids


async def test_tree_shape_depth_and_progress_at_every_level(api: Api) -> None:
    ids = await cascade(api)
    # Exports 1.0; Accounts (KEY_RESULTS) 0.4; Activation (ALIGNED) = mean(0.4) = 0.4;
    # Billing 0.8; Adoption (BOTH): (0.2 + 0.4 + 0.8) / 3 = 0.4667.
    exports = node("Exports", 3, 1.0, None, [])
    accounts = node("Accounts", 2, 0.4, "Raise activation score", [exports])
    activation = node("Activation", 1, 0.4, "Raise adoption score", [accounts])
    billing = node("Billing", 1, 0.8, None, [])
    full = node("Adoption", 0, 1.4 / 3, None, [activation, billing])
    assert await tree(api, ids["root"], 5) == approx(full)
    assert await tree(api, ids["root"], 3) == approx(full)

    # Depth limits what is shown, not what is rolled up.
    accounts_cut = node("Accounts", 2, 0.4, "Raise activation score", [])
    two = node("Adoption", 0, 1.4 / 3, None, [activation | {"children": [accounts_cut]}, billing])
    assert await tree(api, ids["root"], 2) == approx(two)
    one = node("Adoption", 0, 1.4 / 3, None, [activation | {"children": []}, billing])
    assert await tree(api, ids["root"], 1) == approx(one)
    assert await tree(api, ids["root"], 0) == approx(node("Adoption", 0, 1.4 / 3, None, []))
    assert await tree(api, ids["root"], -3) == approx(node("Adoption", 0, 1.4 / 3, None, []))

    # A subtree can be asked for directly; a leaf is a tree of one.
    assert await tree(api, ids["a"], 3) == approx(
        activation
        | {"depth": 0, "viaKeyResult": None}
        | {"children": [accounts | {"depth": 1, "children": [exports | {"depth": 2}]}]}
    )
    assert await tree(api, ids["a1x"], 3) == approx(node("Exports", 0, 1.0, None, []))

    # The tree's progress is the objective's own progress field.
    for key in ("root", "a", "a1"):
        data = await api.query(
            "query($id: ID!) { node(id: $id) { ... on Objective { progress } } }",
            {"id": ids[key]},
        )
        found = await tree(api, ids[key], 0)
        assert data["node"]["progress"] == approx(found["progress"])


async def test_an_objective_supporting_several_parents_appears_under_each(api: Api) -> None:
    team = await factories.team(api, "Acme")
    year = await cycle(api, "Year", -49, 50)
    root, root_kr = await measured(api, team, year, "Growth", 0, progressMode="ALIGNED")
    second_kr = await factories.key_result(api, root, "Raise retention", 0, 10)
    left, _ = await measured(api, team, year, "Left", 2)
    right, _ = await measured(api, team, year, "Right", 6)
    shared, _ = await measured(api, team, year, "Shared", 10)
    await contributes(api, left, objective=root)
    await contributes(api, right, key_result=second_kr)
    await contributes(api, shared, objective=left)
    await contributes(api, shared, objective=right)
    # The same objective supporting two key results of the root counts once in the roll-up,
    # as in the objective's own progress field.
    await contributes(api, right, key_result=root_kr)

    found = await tree(api, root, 3)
    progress = await api.query(
        "query($id: ID!) { node(id: $id) { ... on Objective { progress } } }", {"id": root}
    )
    # Root (ALIGNED): mean of Left 0.2 and Right 0.6 = 0.4.
    assert progress["node"]["progress"] == approx(0.4)
    assert found["progress"] == approx(0.4)
    # Children in creation order; one entry per key result supported, each saying which.
    assert [
        (
            child["objective"]["title"],
            child["viaKeyResult"] and child["viaKeyResult"]["title"],
            [grandchild["objective"]["title"] for grandchild in child["children"]],
        )
        for child in found["children"]
    ] == [
        ("Left", None, ["Shared"]),
        ("Right", "Raise growth score", ["Shared"]),
        ("Right", "Raise retention", ["Shared"]),
    ]


async def test_unknown_or_foreign_root_is_null(api: Api, other_api: Api) -> None:
    team = await factories.team(api)
    year = await cycle(api, "Year", -49, 50)
    root, _ = await measured(api, team, year, "Adoption", 5)
    assert await tree(api, root, 3) is not None
    assert await tree(other_api, root, 3) is None
    errors = await api.errors(
        "query($id: ID!) { alignmentTree(rootId: $id) { depth } }", {"id": team}
    )  # a team's ID is no objective's
    assert [error["extensions"]["code"] for error in errors] == ["NOT_FOUND"]


async def statements_for_tree(api: Api, sql_statements: Any, root: str) -> int:
    before = sql_statements.count
    await tree(api, root, 10)
    return int(sql_statements.count - before)


async def test_tree_costs_a_constant_number_of_statements(api: Api, sql_statements: Any) -> None:
    team = await factories.team(api, "Acme")
    year = await cycle(api, "Year", -49, 50)
    small, small_kr = await measured(api, team, year, "Small", 1, progressMode="BOTH")
    leaf, _ = await measured(api, team, year, "Leaf", 1)
    await contributes(api, leaf, key_result=small_kr)

    large, large_kr = await measured(api, team, year, "Large", 1, progressMode="BOTH")
    parents = [(large, large_kr)]
    for level in range(4):  # 4 levels, 2 children each: 30 objectives below the root
        below = []
        for parent, parent_kr in parents:
            for n in range(2):
                child = await measured(
                    api, team, year, f"Level {level} {n}", n * 5, progressMode="BOTH"
                )
                target = {"key_result": parent_kr} if n else {"objective": parent}
                await contributes(api, child[0], **target)
                below.append(child)
        parents = below

    small_count = await statements_for_tree(api, sql_statements, small)
    large_count = await statements_for_tree(api, sql_statements, large)
    found = await tree(api, large, 10)

    def size(found_node: Any) -> int:
        return 1 + sum(size(child) for child in found_node.get("children", []))

    assert size(found) == 31
    assert small_count == large_count, (small_count, large_count)


async def test_a_tree_of_many_paths_is_cut_at_its_node_cap_level_by_level(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Objectives under two parents each take a place under both: three levels of two
    make 1 + 2 + 4 + 8 places. With a cap of 10 the first levels stay whole, and the
    nodes whose contributors were cut say so."""
    monkeypatch.setattr(alignment_tree, "MAX_NODES", 10)
    team = await factories.team(api, "Acme")
    year = await cycle(api, "Year", -49, 50)
    root = await factories.objective(api, team, year, "Root")
    parents = [root]
    for level in range(1, 4):
        below = [await factories.objective(api, team, year, f"L{level} {n}") for n in range(2)]
        for child in below:
            for parent in parents:
                await contributes(api, child, objective=parent)
        parents = below

    data = await api.query(
        "query($id: ID!) { alignmentTree(rootId: $id, depth: 10) {"
        f" {selection_with_truncated(4)} }} }}",
        {"id": root},
    )
    found = data["alignmentTree"]

    by_level: dict[int, list[Any]] = {}

    def walk(place: Any) -> None:
        by_level.setdefault(place["depth"], []).append(place)
        for child in place["children"]:
            walk(child)

    walk(found)
    assert [len(by_level.get(level, [])) for level in range(4)] == [1, 2, 4, 3]
    assert sum(len(places) for places in by_level.values()) == 10
    assert not any(place["truncated"] for level in (0, 1) for place in by_level[level])
    # The level-2 places: the first kept both its contributors, the next kept one (the
    # cap), the last two none; each of those three says some were left out.
    assert [(len(p["children"]), p["truncated"]) for p in by_level[2]] == [
        (2, False),
        (1, True),
        (0, True),
        (0, True),
    ]
    assert not any(place["truncated"] for place in by_level[3])


def selection_with_truncated(levels: int) -> str:
    item = "depth truncated"
    found = f"{item} children {{ {item} }}"
    for _ in range(levels - 1):
        found = f"{item} children {{ {found} }}"
    return found


async def test_the_schema_states_the_node_cap(api: Api) -> None:
    data = await api.query('{ __type(name: "AlignmentTreeNode") { fields { name description } } }')
    described = {field["name"]: field["description"] for field in data["__type"]["fields"]}
    assert f"at most {alignment_tree.MAX_NODES} nodes" in described["children"]
    assert f"within {alignment_tree.MAX_NODES} nodes" in described["truncated"]
