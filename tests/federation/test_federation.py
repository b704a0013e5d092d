"""With OKR_FEDERATION=true, /graphql is an Apollo Federation 2 subgraph: a router reads its
SDL from `_service`, resolves references through `_entities` (within the caller's tenant),
and @apollo/composition composes it with another subgraph."""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from okr_service.app import create_app
from okr_service.kit.settings import Settings
from tests import factories
from tests.conftest import Api, new_organization
from tests.tools import node

FEDERATION = Path(__file__).parent
ENTITIES = ("Objective", "KeyResult", "Team", "Cycle", "Initiative")
ENTITY_QUERY = """query($representations: [_Any!]!) { _entities(representations: $representations) {
  __typename
  ... on Objective { id title }
  ... on KeyResult { id title }
  ... on Team { id name }
  ... on Cycle { id name }
  ... on Initiative { id title }
} }"""


@pytest.fixture(scope="module")
async def federated(database_url: str) -> AsyncIterator[FastAPI]:
    settings = Settings(
        database_url=None,
        auth_cache_seconds=0,
        rate_limit_per_second=0,
        auth_failure_rate_per_second=0,
        query_planner_verify=True,
        federation=True,
    )
    app = create_app(settings, database_url=database_url, webhook_worker=False)
    async with app.router.lifespan_context(app):
        yield app


async def client_of(app: FastAPI) -> tuple[httpx.AsyncClient, Api]:
    organization_id, key = await new_organization(app)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://okr.test")
    return client, Api(client, organization_id, key)


@pytest.fixture
async def tenants(federated: FastAPI) -> AsyncIterator[tuple[Api, Api]]:
    """Admin clients of two organizations on the federated app."""
    (client, ours), (other_client, theirs) = await client_of(federated), await client_of(federated)
    async with client, other_client:
        yield ours, theirs


async def one_of_each(api: Api) -> dict[str, str]:
    """A global ID per entity type, and what it is called."""
    ids = await factories.okr(api)
    initiative = await factories.initiative(api, ids["team"])
    return {
        "Objective": ids["objective"],
        "KeyResult": ids["key_result"],
        "Team": ids["team"],
        "Cycle": ids["cycle"],
        "Initiative": initiative,
    }


def representations(ids: dict[str, str]) -> list[dict[str, Any]]:
    return [{"__typename": type_name, "id": ids[type_name]} for type_name in ENTITIES]


async def test_the_sdl_declares_the_keys_of_the_entities(tenants: tuple[Api, Api]) -> None:
    api, _ = tenants
    sdl = (await api.query("{ _service { sdl } }"))["_service"]["sdl"]
    assert 'schema @link(url: "https://specs.apollo.dev/federation/v2.11"' in sdl
    keyed = {
        line.split()[1]
        for line in sdl.splitlines()
        if line.startswith("type ") and '@key(fields: "id"' in line
    }
    assert keyed == set(ENTITIES)


async def test_entities_resolve_within_the_callers_tenant(tenants: tuple[Api, Api]) -> None:
    api, other = tenants
    ours, theirs = await one_of_each(api), await one_of_each(other)
    found = (await api.query(ENTITY_QUERY, {"representations": representations(ours)}))["_entities"]
    assert [(entity["__typename"], entity["id"]) for entity in found] == [
        (type_name, ours[type_name]) for type_name in ENTITIES
    ]
    assert found[2]["name"] == "Team"
    # Another organization's references resolve to nothing, as if unknown.
    foreign = await api.query(ENTITY_QUERY, {"representations": representations(theirs)})
    assert foreign["_entities"] == [None] * len(ENTITIES)
    # A reference naming another type than its ID's is nothing either.
    mislabeled = [{"__typename": "KeyResult", "id": ours["Team"]}]
    assert (await api.query(ENTITY_QUERY, {"representations": mislabeled}))["_entities"] == [None]


async def test_a_malformed_reference_is_an_invalid_id(tenants: tuple[Api, Api]) -> None:
    api, _ = tenants
    errors = await api.errors(
        ENTITY_QUERY, {"representations": [{"__typename": "Team", "id": "not-an-id"}]}
    )
    assert [error["extensions"]["code"] for error in errors] == ["INVALID_ID"]


async def test_the_plain_schema_is_no_subgraph(api: Api) -> None:
    errors = await api.errors("{ _service { sdl } }")
    assert errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_it_composes_with_another_subgraph(tenants: tuple[Api, Api], tmp_path: Path) -> None:
    api, _ = tenants
    sdl = tmp_path / "okr.graphql"
    sdl.write_text((await api.query("{ _service { sdl } }"))["_service"]["sdl"])
    composed = node(FEDERATION / "compose.mjs", sdl, FEDERATION / "roadmap.graphql")
    assert composed.returncode == 0, composed.stderr
    result = json.loads(composed.stdout)
    assert result["hints"] == []
    supergraph = result["supergraphSdl"]
    # The roadmap's items point at okr-service's key results and teams, which it resolves.
    assert '@join__type(graph: OKR, key: "id", resolvable: true)' in supergraph
    assert '@join__type(graph: ROADMAP, key: "id", resolvable: false)' in supergraph
    # ...and okr-service's teams gain the roadmap's field, served by the roadmap.
    team = supergraph[supergraph.index("type Team implements Node") :]
    team = team[: team.index("\n}")]
    assert "roadmapItems: [RoadmapItem!]! @join__field(graph: ROADMAP)" in team
