from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests import factories
from tests.conftest import Api
from tests.graphql.support import bad_ids, node, refused

LINK = "alignment { id kind source { id } targetObjective { id } targetKeyResult { id } }"


async def objectives(api: Api, count: int) -> list[str]:
    team = await factories.team(api)
    cycle = await factories.cycle(api)
    return [await factories.objective(api, team, cycle, f"Objective {n}") for n in range(count)]


async def link(api: Api, source: str, kind: str = "CONTRIBUTES_TO", **target: str) -> str:
    payload = await api.ok("createAlignment", {"sourceObjectiveId": source, "kind": kind, **target})
    return str(payload["alignment"]["id"])


async def test_create_alignment_of_each_kind_reads_back_from_both_ends(api: Api) -> None:
    team, child, peer, blocker = await objectives(api, 4)
    kr = await factories.key_result(api, team)
    to_team = await api.ok(
        "createAlignment", {"sourceObjectiveId": child, "targetObjectiveId": team}, LINK
    )
    assert to_team["alignment"] == {
        "id": to_team["alignment"]["id"],
        "kind": "CONTRIBUTES_TO",
        "source": {"id": child},
        "targetObjective": {"id": team},
        "targetKeyResult": None,
    }
    to_kr = await api.ok(
        "createAlignment", {"sourceObjectiveId": peer, "targetKeyResultId": kr}, LINK
    )
    assert to_kr["alignment"]["targetKeyResult"] == {"id": kr}
    assert to_kr["alignment"]["targetObjective"] is None
    await link(api, child, "RELATES_TO", targetObjectiveId=peer)
    await link(api, child, "DEPENDS_ON", targetObjectiveId=blocker)

    found = await node(
        api,
        child,
        "... on Objective { contributesTo { id } relatedTo { id } dependsOn { id }"
        " alignmentLinks { kind } }",
    )
    assert found == {
        "contributesTo": [{"id": team}],
        "relatedTo": [{"id": peer}],
        "dependsOn": [{"id": blocker}],
        "alignmentLinks": [
            {"kind": "CONTRIBUTES_TO"},
            {"kind": "RELATES_TO"},
            {"kind": "DEPENDS_ON"},
        ],
    }
    found = await node(
        api,
        team,
        "... on Objective { contributors { edges { node { id } } }"
        " incomingAlignmentLinks { edges { node { source { id } } } }"
        " keyResults { contributors { edges { node { id } } } } }",
    )
    assert found == {
        "contributors": {"edges": [{"node": {"id": child}}, {"node": {"id": peer}}]},
        "incomingAlignmentLinks": {"edges": [{"node": {"source": {"id": child}}}]},
        "keyResults": [{"contributors": {"edges": [{"node": {"id": peer}}]}}],
    }
    assert await node(api, peer, "... on Objective { relatedTo { id } contributesTo { id } }") == {
        "relatedTo": [{"id": child}],
        "contributesTo": [{"id": kr}],
    }
    assert await node(
        api, blocker, "... on Objective { dependents { edges { node { id } } } }"
    ) == {"dependents": {"edges": [{"node": {"id": child}}]}}
    listed = await api.query(
        "{ alignmentLinks(kind: DEPENDS_ON) { edges { node { source { id } } } } }"
    )
    assert listed["alignmentLinks"]["edges"] == [{"node": {"source": {"id": child}}}]


async def test_delete_alignment(api: Api) -> None:
    parent, child = await objectives(api, 2)
    link_id = await link(api, child, targetObjectiveId=parent)
    payload = await api.mutate("deleteAlignment", {"id": link_id}, f"{LINK} deletedAlignmentId")
    assert payload["deletedAlignmentId"] == link_id
    assert payload["alignment"]["source"] == {"id": child}
    assert await node(api, link_id, "id") is None
    assert await node(api, child, "... on Objective { contributesTo { id } }") == {
        "contributesTo": []
    }
    await link(api, child, targetObjectiveId=parent)  # the same link may be made again


async def test_alignment_cannot_point_at_its_source(api: Api, engine: AsyncEngine) -> None:
    (objective,) = await objectives(api, 1)
    kr = await factories.key_result(api, objective)
    for kind in ("CONTRIBUTES_TO", "RELATES_TO", "DEPENDS_ON"):
        input_ = {"sourceObjectiveId": objective, "kind": kind, "targetObjectiveId": objective}
        await refused(
            api, engine, "createAlignment", input_, "SELF_REFERENCE", ["targetObjectiveId"]
        )
    input_ = {"sourceObjectiveId": objective, "targetKeyResultId": kr}
    await refused(api, engine, "createAlignment", input_, "SELF_REFERENCE", ["targetKeyResultId"])


async def test_contributions_cannot_form_a_cycle(api: Api, engine: AsyncEngine) -> None:
    a, b, c = await objectives(api, 3)
    kr_of_a = await factories.key_result(api, a)
    await link(api, a, targetObjectiveId=b)
    back = {"sourceObjectiveId": b, "targetObjectiveId": a}
    await refused(api, engine, "createAlignment", back, "ALIGNMENT_CYCLE", ["sourceObjectiveId"])
    via_kr = {"sourceObjectiveId": b, "targetKeyResultId": kr_of_a}
    await refused(api, engine, "createAlignment", via_kr, "ALIGNMENT_CYCLE", ["sourceObjectiveId"])
    await link(api, b, targetObjectiveId=c)
    closing = {"sourceObjectiveId": c, "targetObjectiveId": a}
    await refused(api, engine, "createAlignment", closing, "ALIGNMENT_CYCLE", ["sourceObjectiveId"])
    closing_via_kr = {"sourceObjectiveId": c, "targetKeyResultId": kr_of_a}
    await refused(
        api, engine, "createAlignment", closing_via_kr, "ALIGNMENT_CYCLE", ["sourceObjectiveId"]
    )
    # Other kinds are not part of the contribution graph.
    await link(api, c, "RELATES_TO", targetObjectiveId=a)
    await link(api, c, "DEPENDS_ON", targetObjectiveId=a)


async def test_a_cycle_through_a_key_result_target_is_refused(
    api: Api, engine: AsyncEngine
) -> None:
    a, b = await objectives(api, 2)
    kr_of_b = await factories.key_result(api, b)
    await link(api, a, targetKeyResultId=kr_of_b)
    back = {"sourceObjectiveId": b, "targetObjectiveId": a}
    await refused(api, engine, "createAlignment", back, "ALIGNMENT_CYCLE", ["sourceObjectiveId"])


@pytest.mark.parametrize("kind", ["CONTRIBUTES_TO", "RELATES_TO", "DEPENDS_ON"])
async def test_duplicate_alignment_is_refused(api: Api, engine: AsyncEngine, kind: str) -> None:
    a, b = await objectives(api, 2)
    await link(api, a, kind, targetObjectiveId=b)
    input_ = {"sourceObjectiveId": a, "kind": kind, "targetObjectiveId": b}
    await refused(api, engine, "createAlignment", input_, "DUPLICATE")


async def test_duplicate_contribution_to_a_key_result_is_refused(
    api: Api, engine: AsyncEngine
) -> None:
    a, b = await objectives(api, 2)
    kr = await factories.key_result(api, b)
    await link(api, a, targetKeyResultId=kr)
    input_ = {"sourceObjectiveId": a, "targetKeyResultId": kr}
    await refused(api, engine, "createAlignment", input_, "DUPLICATE")


@pytest.mark.parametrize(
    ("shape", "kind", "field"),
    [
        ({}, "CONTRIBUTES_TO", None),
        ({"objective": True, "key_result": True}, "CONTRIBUTES_TO", None),
        ({"key_result": True}, "RELATES_TO", ["targetKeyResultId"]),
        ({"key_result": True}, "DEPENDS_ON", ["targetKeyResultId"]),
    ],
)
async def test_alignment_needs_exactly_one_fitting_target(
    api: Api, engine: AsyncEngine, shape: dict[str, bool], kind: str, field: Any
) -> None:
    a, b = await objectives(api, 2)
    kr = await factories.key_result(api, b)
    input_: dict[str, Any] = {"sourceObjectiveId": a, "kind": kind}
    if shape.get("objective"):
        input_["targetObjectiveId"] = b
    if shape.get("key_result"):
        input_["targetKeyResultId"] = kr
    await refused(api, engine, "createAlignment", input_, "INVALID_TARGET", field)


@pytest.mark.parametrize(("bad_id", "code"), bad_ids("Objective", "Team"))
async def test_create_alignment_refuses_bad_objective_ids(
    api: Api, engine: AsyncEngine, bad_id: str, code: str
) -> None:
    (objective,) = await objectives(api, 1)
    source = {"sourceObjectiveId": bad_id, "targetObjectiveId": objective}
    await refused(api, engine, "createAlignment", source, code, ["sourceObjectiveId"])
    target = {"sourceObjectiveId": objective, "targetObjectiveId": bad_id}
    await refused(api, engine, "createAlignment", target, code, ["targetObjectiveId"])


@pytest.mark.parametrize(("bad_id", "code"), bad_ids("KeyResult", "Objective"))
async def test_create_alignment_refuses_bad_key_result_ids(
    api: Api, engine: AsyncEngine, bad_id: str, code: str
) -> None:
    (objective,) = await objectives(api, 1)
    input_ = {"sourceObjectiveId": objective, "targetKeyResultId": bad_id}
    await refused(api, engine, "createAlignment", input_, code, ["targetKeyResultId"])


@pytest.mark.parametrize(("bad_id", "code"), bad_ids("AlignmentLink", "Objective"))
async def test_delete_alignment_refuses_bad_ids(
    api: Api, engine: AsyncEngine, bad_id: str, code: str
) -> None:
    a, b = await objectives(api, 2)
    await link(api, a, targetObjectiveId=b)
    await refused(api, engine, "deleteAlignment", {"id": bad_id}, code, ["id"])
