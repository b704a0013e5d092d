"""CORS: only configured origins get `Access-Control-*` headers; preflights are cached."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from okr_service.app import create_app
from okr_service.kit.cors import LOCAL_ORIGINS
from okr_service.kit.settings import Settings
from tests.conftest import new_organization

ALLOWED = "https://okr.example.com"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


async def client_of(database_url: str, **overrides: object) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(database_url=None, auth_cache_seconds=0, **overrides)  # type: ignore[arg-type]
    app: FastAPI = create_app(settings, database_url=database_url, webhook_worker=False)
    async with app.router.lifespan_context(app):
        _, key = await new_organization(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://okr.test",
            headers={"Authorization": f"Bearer {key}"},
        ) as client:
            yield client


@pytest.fixture
async def cors_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_of(database_url, cors_origins=[ALLOWED]):
        yield client


async def test_a_preflight_from_an_allowed_origin_is_answered_and_cacheable(
    cors_client: httpx.AsyncClient,
) -> None:
    response = await cors_client.options("/graphql", headers={"Origin": ALLOWED, **PREFLIGHT})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed_headers = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed_headers
    assert "idempotency-key" in allowed_headers
    assert response.headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in response.headers


async def test_a_disallowed_origin_gets_no_allow_header(
    cors_client: httpx.AsyncClient,
) -> None:
    evil = "https://okr.example.com.evil.test"
    preflight = await cors_client.options("/graphql", headers={"Origin": evil, **PREFLIGHT})
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    response = await cors_client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Origin": evil}
    )
    assert response.status_code == 200  # the browser, not the server, keeps it from the page
    assert "access-control-allow-origin" not in response.headers


async def test_a_query_from_an_allowed_origin_exposes_the_headers_clients_need(
    cors_client: httpx.AsyncClient,
) -> None:
    response = await cors_client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Origin": ALLOWED}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    exposed = response.headers["access-control-expose-headers"].lower()
    assert {"retry-after", "idempotent-replayed"} <= set(exposed.replace(" ", "").split(","))


async def test_an_unauthenticated_answer_is_readable_by_an_allowed_page(
    cors_client: httpx.AsyncClient,
) -> None:
    response = await cors_client.post(
        "/graphql",
        json={"query": "{ __typename }"},
        headers={"Origin": ALLOWED, "Authorization": ""},
    )
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == ALLOWED


async def test_cors_is_off_without_origins(database_url: str) -> None:
    async for client in client_of(database_url):
        response = await client.options("/graphql", headers={"Origin": ALLOWED, **PREFLIGHT})
        assert "access-control-allow-origin" not in response.headers
        assert response.status_code == 405


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://localhost:5173", True),
        ("http://127.0.0.1:3000", True),
        ("http://localhost", True),
        ("https://localhost:5173", False),
        ("http://localhost.evil.test:5173", False),
        ("http://evil.test/http://localhost:5173", False),
    ],
)
async def test_the_demo_lets_in_local_frontends_only(
    database_url: str, origin: str, allowed: bool
) -> None:
    async for client in client_of(database_url, cors_origin_regex=LOCAL_ORIGINS):
        response = await client.options("/graphql", headers={"Origin": origin, **PREFLIGHT})
        assert ("access-control-allow-origin" in response.headers) is allowed
