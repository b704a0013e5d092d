"""The forward lists stay short because writes keep them short: an objective's own links,
its RELATES_TO links, an initiative's key results and the initiatives of one objective's
key results each have a bound, refused past it with LIMIT_REACHED, also when writers race.

The bounds are lowered here (the functions read them at call time) so each test builds
only a few objects; the schema states the real ones."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from unittest.mock import ANY
from uuid import UUID, uuid4

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from okr_service.alignment import service as alignment
from okr_service.initiatives import service as initiatives
from okr_service.kit.db import enter_tenant
from okr_service.kit.errors import DomainError, ErrorCode
from okr_service.kit.principal import Principal, effective_scopes
from okr_service.okr.enums import AlignmentKind
from tests import factories
from tests.conftest import Api
from tests.graphql.support import node, refused, uuid_of


async def objectives(api: Api, count: int) -> list[str]:
    team = await factories.team(api)
    cycle = await factories.cycle(api)
    return [await factories.objective(api, team, cycle, f"Objective {n}") for n in range(count)]


def alignment_input(source: str, target: str, kind: str = "CONTRIBUTES_TO") -> dict[str, Any]:
    return {"sourceObjectiveId": source, "targetObjectiveId": target, "kind": kind}


async def outcomes(api: Api, name: str, inputs: list[dict[str, Any]]) -> list[list[str]]:
    """The user error codes of concurrent mutations (an empty list: it succeeded)."""
    object_field = {"createAlignment": "alignment", "linkInitiative": "initiative"}[name]
    payloads = await asyncio.gather(
        *(api.mutate(name, input_, f"{object_field} {{ id }}") for input_ in inputs)
    )
    return sorted([error["code"] for error in payload["userErrors"]] for payload in payloads)


async def test_an_objective_makes_links_up_to_its_limit(
    api: Api, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alignment, "MAX_LINKS_FROM", 3)
    source, *targets = await objectives(api, 5)
    await api.ok("createAlignment", alignment_input(source, targets[0]))
    await api.ok("createAlignment", alignment_input(source, targets[1], "DEPENDS_ON"))
    await api.ok("createAlignment", alignment_input(source, targets[2], "RELATES_TO"))  # at it

    errors = await refused(
        api,
        engine,
        "createAlignment",
        alignment_input(source, targets[3]),
        "LIMIT_REACHED",
        ["sourceObjectiveId"],
    )
    assert "at most 3" in errors[0]["message"]
    found = await node(api, source, "... on Objective { alignmentLinks { kind } }")
    assert len(found["alignmentLinks"]) == 3
    # Links towards the objective are not its own: another objective may still point at it.
    await api.ok("createAlignment", alignment_input(targets[3], source))


async def test_a_link_freed_makes_room_again(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alignment, "MAX_LINKS_FROM", 1)
    source, first, second = await objectives(api, 3)
    link = await api.ok("createAlignment", alignment_input(source, first))
    assert await api.user_errors("createAlignment", alignment_input(source, second)) == [
        {"field": ["sourceObjectiveId"], "message": ANY, "code": "LIMIT_REACHED"}
    ]
    await api.ok("deleteAlignment", {"id": link["alignment"]["id"]})
    await api.ok("createAlignment", alignment_input(source, second))


async def test_relates_to_is_bounded_at_both_ends(
    api: Api, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alignment, "MAX_RELATED", 2)
    hub, first, second, third = await objectives(api, 4)
    await api.ok("createAlignment", alignment_input(first, hub, "RELATES_TO"))
    await api.ok("createAlignment", alignment_input(hub, second, "RELATES_TO"))

    # The hub is at its bound whichever end a third link would take.
    await refused(
        api,
        engine,
        "createAlignment",
        alignment_input(third, hub, "RELATES_TO"),
        "LIMIT_REACHED",
        ["targetObjectiveId"],
    )
    await refused(
        api,
        engine,
        "createAlignment",
        alignment_input(hub, third, "RELATES_TO"),
        "LIMIT_REACHED",
        ["sourceObjectiveId"],
    )
    found = await node(api, hub, "... on Objective { relatedTo { id } }")
    assert {item["id"] for item in found["relatedTo"]} == {first, second}


async def test_racing_links_cannot_pass_the_limit(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alignment, "MAX_LINKS_FROM", 2)
    source, *targets = await objectives(api, 6)
    await api.ok("createAlignment", alignment_input(source, targets[0]))

    found = await outcomes(
        api, "createAlignment", [alignment_input(source, target) for target in targets[1:]]
    )

    assert found == [[], *[["LIMIT_REACHED"]] * 3]
    links = await node(api, source, "... on Objective { contributesTo { id } }")
    assert len(links["contributesTo"]) == 2


async def okr_with_key_results(api: Api, count: int) -> tuple[str, str, list[str]]:
    """A team, an objective of it and `count` key results of that objective."""
    ids = await factories.okr(api)
    more = [await factories.key_result(api, ids["objective"], f"KR {n}") for n in range(count - 1)]
    return ids["team"], ids["objective"], [ids["key_result"], *more]


def link_input(initiative: str, key_result: str) -> dict[str, Any]:
    return {"initiativeId": initiative, "keyResultId": key_result, "expectedImpact": 1}


async def test_an_initiative_moves_key_results_up_to_its_limit(
    api: Api, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(initiatives, "MAX_KEY_RESULTS_PER_INITIATIVE", 2)
    team, _, key_results = await okr_with_key_results(api, 3)
    work = await factories.initiative(api, team)
    await api.ok("linkInitiative", link_input(work, key_results[0]))
    await api.ok("linkInitiative", link_input(work, key_results[1]))  # at the limit
    # Changing the impact of a link it has is no new link.
    await api.ok("linkInitiative", {**link_input(work, key_results[1]), "expectedImpact": 5})

    errors = await refused(
        api,
        engine,
        "linkInitiative",
        link_input(work, key_results[2]),
        "LIMIT_REACHED",
        ["initiativeId"],
    )
    assert "at most 2" in errors[0]["message"]
    found = await node(api, work, "... on Initiative { keyResultLinks { expectedImpact } }")
    assert sorted(link["expectedImpact"] for link in found["keyResultLinks"]) == [1, 5]


async def test_racing_links_of_one_initiative_cannot_pass_its_limit(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(initiatives, "MAX_KEY_RESULTS_PER_INITIATIVE", 1)
    team, _, key_results = await okr_with_key_results(api, 3)
    work = await factories.initiative(api, team)

    found = await outcomes(api, "linkInitiative", [link_input(work, kr) for kr in key_results])

    assert found == [[], ["LIMIT_REACHED"], ["LIMIT_REACHED"]]


async def test_one_objectives_key_results_tie_up_to_its_limit_of_initiatives(
    api: Api, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(initiatives, "MAX_INITIATIVES_PER_OBJECTIVE", 2)
    team, objective, key_results = await okr_with_key_results(api, 2)
    first, second, third = [await factories.initiative(api, team, f"Bet {n}") for n in range(3)]
    await api.ok("linkInitiative", link_input(first, key_results[0]))
    await api.ok("linkInitiative", link_input(second, key_results[1]))  # at the limit
    # An initiative the objective already counts may move another of its key results.
    await api.ok("linkInitiative", link_input(first, key_results[1]))

    await refused(
        api,
        engine,
        "linkInitiative",
        link_input(third, key_results[0]),
        "LIMIT_REACHED",
        ["keyResultId"],
    )
    found = await node(
        api, objective, "... on Objective { initiatives { id } keyResults { initiatives { id } } }"
    )
    assert {item["id"] for item in found["initiatives"]} == {first, second}
    # Another objective's key results are counted on their own.
    other = await factories.objective(api, team, await factories.cycle(api, "Q2"), "Other")
    await api.ok("linkInitiative", link_input(third, await factories.key_result(api, other)))


async def test_racing_links_to_one_objectives_key_results_cannot_pass_its_limit(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(initiatives, "MAX_INITIATIVES_PER_OBJECTIVE", 2)
    team, objective, key_results = await okr_with_key_results(api, 3)
    bets = [await factories.initiative(api, team, f"Bet {n}") for n in range(4)]
    await api.ok("linkInitiative", link_input(bets[0], key_results[0]))

    # Different initiatives, different key results: only the objective's lock orders them.
    found = await outcomes(
        api,
        "linkInitiative",
        [link_input(bet, kr) for bet, kr in zip(bets[1:], key_results, strict=True)],
    )

    assert found == [[], ["LIMIT_REACHED"], ["LIMIT_REACHED"]]
    tied = await node(api, objective, "... on Objective { initiatives { id } }")
    assert len(tied["initiatives"]) == 2


Write = Callable[[AsyncSession, Principal], Awaitable[object]]


async def second_waits_then_is_refused(
    app: FastAPI, organization_id: UUID, first: Write, second: Write
) -> DomainError:
    """`first` takes the last place in a transaction left open; `second`, started meanwhile
    in another, must wait for it (not count without it), then be refused once it commits."""
    actor = Principal(organization_id, effective_scopes(["admin"]), uuid4(), "admin")

    async def in_transaction(write: Write) -> DomainError | None:
        async with app.state.sessionmaker() as db:
            await enter_tenant(db, organization_id)
            try:
                await write(db, actor)
            except DomainError as error:
                return error
            await db.commit()
            return None

    async with app.state.sessionmaker() as db:
        await enter_tenant(db, organization_id)
        await first(db, actor)
        racing = asyncio.create_task(in_transaction(second))
        await asyncio.sleep(0.3)
        assert not racing.done(), "the second writer counted without waiting for the first"
        await db.commit()
    refused = await asyncio.wait_for(racing, 10)
    assert refused is not None, "both writers passed the limit"
    return refused


async def test_a_link_waits_for_a_concurrent_one_to_the_same_objectives_key_results(
    app: FastAPI, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(initiatives, "MAX_INITIATIVES_PER_OBJECTIVE", 1)
    team, _, key_results = await okr_with_key_results(api, 2)
    first, second = [uuid_of(await factories.initiative(api, team, f"Bet {n}")) for n in range(2)]
    first_kr, second_kr = (uuid_of(kr) for kr in key_results)

    def link(initiative: UUID, key_result: UUID) -> Write:
        async def write(db: AsyncSession, actor: Principal) -> object:
            return await initiatives.link_initiative(
                db, actor, initiative_id=initiative, key_result_id=key_result, expected_impact=1
            )

        return write

    error = await second_waits_then_is_refused(
        app, api.organization_id, link(first, first_kr), link(second, second_kr)
    )
    assert error.errors[0].code is ErrorCode.LIMIT_REACHED


async def test_a_link_waits_for_a_concurrent_one_from_the_same_objective(
    app: FastAPI, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alignment, "MAX_LINKS_FROM", 1)
    source, first, second = [uuid_of(id_) for id_ in await objectives(api, 3)]

    def link(target: UUID) -> Write:
        async def write(db: AsyncSession, actor: Principal) -> object:
            return await alignment.create_alignment(
                db,
                actor,
                kind=AlignmentKind.CONTRIBUTES_TO,
                source_objective_id=source,
                target_objective_id=target,
                target_key_result_id=None,
            )

        return write

    error = await second_waits_then_is_refused(app, api.organization_id, link(first), link(second))
    assert error.errors[0].code is ErrorCode.LIMIT_REACHED


async def test_the_schema_states_the_limits(api: Api) -> None:
    data = await api.query(
        '{ objective: __type(name: "Objective") { fields { name description } }'
        ' initiative: __type(name: "Initiative") { fields { name description } } }'
    )
    described = {
        field["name"]: field["description"] for type_ in data.values() for field in type_["fields"]
    }
    assert f"at most {alignment.MAX_LINKS_FROM}" in described["alignmentLinks"]
    assert f"at most {alignment.MAX_RELATED}" in described["relatedTo"]
    assert f"at most {initiatives.MAX_INITIATIVES_PER_OBJECTIVE}" in described["initiatives"]
    key_results = f"at most {initiatives.MAX_KEY_RESULTS_PER_INITIATIVE}"
    assert key_results in described["keyResultLinks"]
