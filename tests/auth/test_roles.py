"""Roles per organization, enforced by the domain services.

The tree used throughout:  Company > Product > Mobile,  Company > Sales.
An editor of Product writes Product's and Mobile's OKRs, never Sales' nor Company's.
"""

from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from okr_service.auth.service import create_api_key
from okr_service.kit.db import transaction
from okr_service.kit.principal import Principal, Role, Scope
from tests import factories
from tests.auth.conftest import IdentityProvider, user
from tests.conftest import Api, new_organization
from tests.graphql.support import db_state, gid, refused


async def tree(admin: Api) -> dict[str, str]:
    """Teams, a cycle, and an objective with a key result for every team."""
    ids = {"company": await factories.team(admin, "Company")}
    ids["product"] = await factories.team(admin, "Product", ids["company"])
    ids["mobile"] = await factories.team(admin, "Mobile", ids["product"])
    ids["sales"] = await factories.team(admin, "Sales", ids["company"])
    ids["cycle"] = await factories.cycle(admin)
    for team in ("company", "product", "mobile", "sales"):
        ids[f"{team}_objective"] = await factories.objective(admin, ids[team], ids["cycle"], team)
        ids[f"{team}_kr"] = await factories.key_result(admin, ids[f"{team}_objective"])
        ids[f"{team}_initiative"] = await factories.initiative(admin, ids[team])
    return ids


@pytest.fixture
async def world(org_admin: Api) -> dict[str, str]:
    return await tree(org_admin)


@pytest.fixture
def editor(org_admin: Api, identity: IdentityProvider, world: dict[str, str]) -> Api:
    return user(org_admin, identity, "editor", [world["product"]])


def writes(ids: dict[str, str], team: str) -> list[tuple[str, dict[str, Any]]]:
    """Every OKR write concerning `team`'s objects."""
    return [
        ("createObjective", {"title": "New", "teamId": ids[team], "cycleId": ids["cycle"]}),
        ("updateObjective", {"id": ids[f"{team}_objective"], "title": "Renamed"}),
        (
            "createKeyResult",
            {"objectiveId": ids[f"{team}_objective"], "title": "N", "targetValue": 5},
        ),
        ("updateKeyResult", {"id": ids[f"{team}_kr"], "title": "Renamed"}),
        ("recordCheckIn", {"keyResultId": ids[f"{team}_kr"], "value": 12}),
        ("createInitiative", {"title": "New", "teamId": ids[team]}),
        ("updateInitiative", {"id": ids[f"{team}_initiative"], "title": "Renamed"}),
        (
            "linkInitiative",
            {"initiativeId": ids[f"{team}_initiative"], "keyResultId": ids["company_kr"]},
        ),
        (
            "createAlignment",
            {
                "sourceObjectiveId": ids[f"{team}_objective"],
                "targetObjectiveId": ids[
                    "sales_objective" if team == "company" else "company_objective"
                ],
                "kind": "CONTRIBUTES_TO",
            },
        ),
        ("deleteKeyResult", {"id": ids[f"{team}_kr"]}),
        ("deleteObjective", {"id": ids[f"{team}_objective"]}),
    ]


STRUCTURE = [
    ("createTeam", lambda ids: {"name": "New", "parentId": ids["product"]}),
    ("updateTeam", lambda ids: {"id": ids["mobile"], "name": "Renamed"}),
    ("createCycle", lambda ids: {"name": "Q2", "startsOn": "2026-04-01", "endsOn": "2026-06-30"}),
    ("updateCycle", lambda ids: {"id": ids["cycle"], "name": "Renamed"}),
]


@pytest.mark.parametrize("team", ["product", "mobile"])
async def test_an_editor_writes_the_okrs_of_its_team_and_the_teams_below(
    editor: Api, world: dict[str, str], team: str
) -> None:
    for name, input_ in writes(world, team):
        await editor.ok(name, input_)


@pytest.mark.parametrize("team", ["sales", "company"])
async def test_an_editor_cannot_write_a_sibling_s_or_a_parent_s_okrs(
    editor: Api, world: dict[str, str], engine: AsyncEngine, team: str
) -> None:
    for name, input_ in writes(world, team):
        await refused(editor, engine, name, input_, "FORBIDDEN", None)


async def test_an_editor_cannot_move_okrs_out_of_its_teams(
    editor: Api, world: dict[str, str], engine: AsyncEngine
) -> None:
    for name, input_ in [
        ("updateObjective", {"id": world["mobile_objective"], "teamId": world["sales"]}),
        ("updateKeyResult", {"id": world["mobile_kr"], "teamId": world["sales"]}),
        ("updateInitiative", {"id": world["mobile_initiative"], "teamId": world["sales"]}),
        (
            "createKeyResult",
            {
                "objectiveId": world["mobile_objective"],
                "title": "Owned elsewhere",
                "targetValue": 5,
                "teamId": world["sales"],
            },
        ),
    ]:
        await refused(editor, engine, name, input_, "FORBIDDEN", None)
    # ...but within them, it may.
    await editor.ok(
        "updateObjective", {"id": world["mobile_objective"], "teamId": world["product"]}
    )


async def test_a_shared_key_result_is_written_by_its_own_team_or_its_objective_s(
    org_admin: Api, identity: IdentityProvider, world: dict[str, str], engine: AsyncEngine
) -> None:
    """A key result of Product under Sales' objective: Product's editor checks in on it;
    an editor of Mobile (below Product, but not above it) cannot."""
    shared = await factories.key_result(
        org_admin, world["sales_objective"], "Shared", teamId=world["product"]
    )
    product = user(org_admin, identity, "editor", [world["product"]])
    sales = user(org_admin, identity, "editor", [world["sales"]])
    mobile = user(org_admin, identity, "editor", [world["mobile"]])
    await product.ok("recordCheckIn", {"keyResultId": shared, "value": 15})
    await sales.ok("recordCheckIn", {"keyResultId": shared, "value": 16})
    await refused(
        mobile, engine, "recordCheckIn", {"keyResultId": shared, "value": 17}, "FORBIDDEN"
    )


async def test_an_editor_cannot_change_the_organization_s_structure(
    editor: Api, world: dict[str, str], engine: AsyncEngine
) -> None:
    for name, input_ in STRUCTURE:
        await refused(editor, engine, name, input_(world), "FORBIDDEN", None)
    payload = await editor.mutate("closeCycle", {"cycleId": world["cycle"]}, "cycle { id }")
    assert [e["code"] for e in payload["userErrors"]] == ["FORBIDDEN"]


async def test_an_editor_without_teams_writes_nothing(
    org_admin: Api, identity: IdentityProvider, world: dict[str, str], engine: AsyncEngine
) -> None:
    nobody = user(org_admin, identity, "editor", [])
    for name, input_ in writes(world, "mobile")[:3]:
        await refused(nobody, engine, name, input_, "FORBIDDEN", None)


async def test_an_editor_carries_over_only_its_teams_objectives(
    editor: Api, org_admin: Api, world: dict[str, str], engine: AsyncEngine
) -> None:
    q2 = await factories.cycle(org_admin, "Q2", "2026-04-01", "2026-06-30")
    query = (
        "mutation($input: CarryOverObjectivesInput!) { carryOverObjectives(input: $input) {"
        " objectives { id } userErrors { code } } }"
    )
    everything = {"fromCycleId": world["cycle"], "toCycleId": q2}
    before = await db_state(engine, org_admin.organization_id)
    data = await editor.query(query, {"input": everything})
    assert [e["code"] for e in data["carryOverObjectives"]["userErrors"]] == ["FORBIDDEN"]
    assert await db_state(engine, org_admin.organization_id) == before
    mine = {**everything, "objectiveIds": [world["product_objective"], world["mobile_objective"]]}
    data = await editor.query(query, {"input": mine})
    assert data["carryOverObjectives"]["userErrors"] == []
    assert len(data["carryOverObjectives"]["objectives"]) == 2


async def test_a_viewer_reads_but_cannot_write(
    org_admin: Api, identity: IdentityProvider, world: dict[str, str], engine: AsyncEngine
) -> None:
    viewer = user(org_admin, identity, "viewer", [world["product"]])
    data = await viewer.query("{ objectives { edges { node { id } } } }")
    assert len(data["objectives"]["edges"]) == 4
    for name, input_ in writes(world, "product"):
        await refused(viewer, engine, name, input_, "FORBIDDEN", None)
    name, input_of = STRUCTURE[0]
    await refused(viewer, engine, name, input_of(world), "FORBIDDEN")


async def test_an_admin_does_everything(
    org_admin: Api, identity: IdentityProvider, world: dict[str, str]
) -> None:
    admin = user(org_admin, identity, "admin", [])
    for name, input_ in STRUCTURE:
        await admin.ok(name, input_(world))
    for team in ("sales", "mobile"):
        for name, input_ in writes(world, team):
            await admin.ok(name, input_)
    key = await admin.query(
        'mutation { createApiKey(input: {name: "ci", scopes: [READ]})'
        " { secret userErrors { code } } }"
    )
    assert key["createApiKey"]["userErrors"] == []
    assert (await admin.query("{ apiKeys { edges { node { name } } } }"))["apiKeys"]["edges"]
    endpoints = await admin.query("{ webhookEndpoints { edges { node { id } } } }")
    assert endpoints["webhookEndpoints"]["edges"] == []


@pytest.mark.parametrize("role", ["viewer", "editor"])
async def test_only_admins_manage_keys_and_webhooks(
    org_admin: Api, identity: IdentityProvider, role: str
) -> None:
    someone = user(org_admin, identity, role, [])
    key = await someone.query(
        'mutation { createApiKey(input: {name: "ci", scopes: [ADMIN]})'
        " { secret userErrors { code } } }"
    )
    assert key["createApiKey"] == {"secret": None, "userErrors": [{"code": "FORBIDDEN"}]}
    endpoint = await someone.mutate(
        "createWebhookEndpoint", {"url": "https://127.0.0.1:9/okr"}, "webhookEndpoint { id }"
    )
    assert [e["code"] for e in endpoint["userErrors"]] == ["FORBIDDEN"]
    errors = await someone.errors("{ apiKeys { edges { node { name } } } }")
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    ("scope", "role"), [(Scope.READ, "VIEWER"), (Scope.WRITE, "EDITOR"), (Scope.ADMIN, "ADMIN")]
)
async def test_api_key_scopes_map_to_roles(
    app: FastAPI, http: httpx.AsyncClient, scope: Scope, role: str
) -> None:
    organization_id, key = await new_organization(app, [scope])
    data = await Api(http, organization_id, key).query("{ viewer { role scopes } }")
    assert data["viewer"]["role"] == role


async def test_a_write_key_is_an_editor_of_every_team_but_manages_no_keys(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    organization_id, admin_key = await new_organization(app)
    ids = await tree(Api(http, organization_id, admin_key))
    async with transaction(app.state.sessionmaker) as db:
        _, secret = await create_api_key(db, organization_id, "sync", [Scope.WRITE])
    writer = Api(http, organization_id, secret)
    for team in ("sales", "mobile"):
        for name, input_ in writes(ids, team):
            await writer.ok(name, input_)
    for name, input_ in STRUCTURE:  # structure too: a service integration (HR sync)
        await writer.ok(name, input_(ids))
    key = await writer.query(
        'mutation { createApiKey(input: {name: "x", scopes: [READ]}) { userErrors { code } } }'
    )
    assert key["createApiKey"]["userErrors"] == [{"code": "FORBIDDEN"}]


def test_principal_roles_and_scopes_agree() -> None:
    for role, scopes in [
        (Role.VIEWER, {Scope.READ}),
        (Role.EDITOR, {Scope.READ, Scope.WRITE}),
        (Role.ADMIN, {Scope.READ, Scope.WRITE, Scope.ADMIN}),
    ]:
        principal = Principal.for_role(
            role,
            organization_id=uuid4(),
            actor_id="u",
            actor_name="u",
            actor_type="user",
            team_ids=frozenset({uuid4()}),
        )
        assert principal.role is role
        assert principal.scopes == scopes
        assert principal.organization_wide is (role is Role.ADMIN)


async def test_a_foreign_team_is_not_found_before_it_is_forbidden(
    editor: Api, other_api: Api, world: dict[str, str], engine: AsyncEngine
) -> None:
    """Another organization's team, or an unknown one: NOT_FOUND, as for anyone."""
    foreign = await factories.team(other_api)
    for team in (foreign, gid("Team")):
        await refused(
            editor,
            engine,
            "createObjective",
            {"title": "X", "teamId": team, "cycleId": world["cycle"]},
            "NOT_FOUND",
            ["teamId"],
        )
