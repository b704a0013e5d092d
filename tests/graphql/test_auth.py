from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from okr_service.auth.service import create_api_key
from okr_service.kit.db import transaction
from okr_service.kit.principal import Scope
from okr_service.organizations.service import create_organization
from tests.conftest import Api
from tests.graphql.support import MUTATIONS, db_state, mutation_inputs, world

QUERY = {"query": "{ viewer { scopes actorName } }"}


async def organization_with_key(
    app: FastAPI, http: httpx.AsyncClient, scopes: list[Scope]
) -> tuple[Api, Api]:
    """An admin client and a client with `scopes` of one new organization."""
    async with transaction(app.state.sessionmaker) as db:
        organization, admin = await create_organization(db, f"Org {uuid4().hex[:8]}")
        _, scoped = await create_api_key(db, organization.id, "scoped", scopes)
    organization_id: UUID = organization.id
    return Api(http, organization_id, admin), Api(http, organization_id, scoped)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer    "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "okr_only-a-key"},
        {"Authorization": "Bearer okr_unknown-key"},
    ],
)
async def test_requests_without_a_valid_key_get_401(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await http.post("/graphql", json=QUERY, headers=headers)
    assert response.status_code == 401
    body = response.json()
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["message"]
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_key_of_one_organization_is_not_a_key_of_another(
    http: httpx.AsyncClient, api: Api
) -> None:
    response = await http.post(
        "/graphql", json=QUERY, headers={"Authorization": f"Bearer {api.key}x"}
    )
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_mutations_without_a_key_get_401_and_write_nothing(
    http: httpx.AsyncClient, api: Api, engine: AsyncEngine
) -> None:
    before = await db_state(engine, api.organization_id)
    response = await http.post(
        "/graphql", json={"query": 'mutation { createTeam(input: {name: "A"}) { team { id } } }'}
    )
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await db_state(engine, api.organization_id) == before


async def test_a_read_key_can_query(app: FastAPI, http: httpx.AsyncClient) -> None:
    admin, reader = await organization_with_key(app, http, [Scope.READ])
    ids = await world(admin)
    data = await reader.query(
        "{ viewer { scopes actorName } objectives { edges { node { id } } } }"
    )
    assert data["viewer"] == {"scopes": ["READ"], "actorName": "scoped"}
    assert [edge["node"]["id"] for edge in data["objectives"]["edges"]] == [
        ids["objective"],
        ids["objective2"],
    ]


@pytest.mark.parametrize("name", MUTATIONS)
async def test_a_read_key_cannot_mutate(
    app: FastAPI, http: httpx.AsyncClient, engine: AsyncEngine, name: str
) -> None:
    admin, reader = await organization_with_key(app, http, [Scope.READ])
    ids = await world(admin)
    before = await db_state(engine, admin.organization_id)
    errors = await reader.user_errors(name, mutation_inputs(ids)[name])
    assert [(error["code"], error["field"]) for error in errors] == [("FORBIDDEN", None)]
    assert await db_state(engine, admin.organization_id) == before


@pytest.mark.parametrize("name", MUTATIONS)
async def test_a_write_key_can_mutate(
    app: FastAPI, http: httpx.AsyncClient, engine: AsyncEngine, name: str
) -> None:
    admin, writer = await organization_with_key(app, http, [Scope.WRITE])
    ids = await world(admin)
    before = await db_state(engine, admin.organization_id)
    await writer.ok(name, mutation_inputs(ids)[name])
    after = await db_state(engine, admin.organization_id)
    assert after["events"] != before["events"]
    data = await writer.query("{ viewer { scopes } }")
    assert data["viewer"]["scopes"] == ["READ", "WRITE"]
