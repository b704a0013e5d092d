"""A closed cycle's OKRs are final, and so are the bets on them and the links to them:
initiative links and alignment links touching a closed cycle are refused, nothing written."""

from sqlalchemy.ext.asyncio import AsyncEngine

from tests import factories
from tests.conftest import Api
from tests.graphql.support import close_cycle, refused


async def test_no_initiative_is_linked_to_or_unlinked_from_a_closed_cycle(
    api: Api, engine: AsyncEngine
) -> None:
    ids = await factories.okr(api)
    linked = await factories.initiative(api, ids["team"], "Linked")
    unlinked = await factories.initiative(api, ids["team"], "Unlinked")
    await api.ok("linkInitiative", {"initiativeId": linked, "keyResultId": ids["key_result"]})
    await close_cycle(api, ids["cycle"])

    link = {"initiativeId": unlinked, "keyResultId": ids["key_result"], "expectedImpact": 2}
    await refused(api, engine, "linkInitiative", link, "ALREADY_CLOSED", ["keyResultId"])
    impact = {"initiativeId": linked, "keyResultId": ids["key_result"], "expectedImpact": 9}
    await refused(api, engine, "linkInitiative", impact, "ALREADY_CLOSED", ["keyResultId"])
    unlink = {"initiativeId": linked, "keyResultId": ids["key_result"]}
    await refused(api, engine, "unlinkInitiative", unlink, "ALREADY_CLOSED", ["keyResultId"])


async def test_no_alignment_link_is_made_from_or_to_a_closed_cycle(
    api: Api, engine: AsyncEngine
) -> None:
    closed = await factories.okr(api)
    team = await factories.team(api, "Next team")
    next_cycle = await factories.cycle(api, "Q2", "2026-04-01", "2026-06-30")
    open_objective = await factories.objective(api, team, next_cycle, "Open")
    await close_cycle(api, closed["cycle"])

    from_closed = {"sourceObjectiveId": closed["objective"], "targetObjectiveId": open_objective}
    to_closed = {"sourceObjectiveId": open_objective, "targetObjectiveId": closed["objective"]}
    to_closed_kr = {"sourceObjectiveId": open_objective, "targetKeyResultId": closed["key_result"]}
    for input_, field in (
        (from_closed, "sourceObjectiveId"),
        (to_closed, "targetObjectiveId"),
        (to_closed_kr, "targetKeyResultId"),
    ):
        await refused(api, engine, "createAlignment", input_, "ALREADY_CLOSED", [field])


async def test_no_alignment_link_is_deleted_from_or_to_a_closed_cycle(
    api: Api, engine: AsyncEngine
) -> None:
    closing = await factories.okr(api)
    team = await factories.team(api, "Next team")
    next_cycle = await factories.cycle(api, "Q2", "2026-04-01", "2026-06-30")
    upward = await factories.objective(api, team, next_cycle, "Contributed to")
    downward = await factories.objective(api, team, next_cycle, "Contributing")
    links = [
        await api.ok("createAlignment", input_)
        for input_ in (
            {"sourceObjectiveId": closing["objective"], "targetObjectiveId": upward},
            {"sourceObjectiveId": downward, "targetObjectiveId": closing["objective"]},
            {"sourceObjectiveId": downward, "targetKeyResultId": closing["key_result"]},
        )
    ]
    await close_cycle(api, closing["cycle"])

    for payload in links:
        link = {"id": payload["alignment"]["id"]}
        await refused(api, engine, "deleteAlignment", link, "ALREADY_CLOSED", ["id"])
