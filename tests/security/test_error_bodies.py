"""Refusals made before the GraphQL layer runs (408, 413, 429, 503) reach a standard GraphQL
client as GraphQL responses, with their status and `Retry-After`; the REST routes keep their
own `{"error": {code, message}}` shape."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport

from okr_service.app import create_app
from okr_service.kit.problems import GRAPHQL_RESPONSE_JSON, JSON
from okr_service.kit.settings import Settings
from tests.conftest import Api
from tests.security.conftest import AppWith

VIEWER = "{ viewer { __typename } }"
# Nothing listens on port 1: every connection to this database is refused at once.
UNREACHABLE_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:1/okr"


async def refused_through_gql(app: FastAPI, key: str, **request: Any) -> tuple[dict[str, Any], Any]:
    """What the `gql` client raises for `VIEWER` on `app`: the GraphQL error it read, and the
    response's headers."""
    transport = HTTPXAsyncTransport(
        url="http://okr.test/graphql",
        headers={"Authorization": f"Bearer {key}"},
        transport=httpx.ASGITransport(app=app),
        **request,
    )
    async with Client(transport=transport) as session:
        with pytest.raises(TransportQueryError) as refused:
            await session.execute(GraphQLRequest(VIEWER))
    assert refused.value.errors is not None
    [error] = refused.value.errors
    return error, transport.response_headers


def assert_graphql_error(response: httpx.Response, status: int, code: str, media: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == media
    body = response.json()
    assert set(body) == {"errors"}  # refused before execution: no `data` entry
    [error] = body["errors"]
    assert error["extensions"] == {"code": code}
    assert isinstance(error["message"], str)
    assert error["message"]


@pytest.mark.parametrize("accept", [None, JSON, GRAPHQL_RESPONSE_JSON])
async def test_413_is_a_graphql_response(api: Api, accept: str | None) -> None:
    headers = {} if accept is None else {"Accept": accept}
    response = await api.post(VIEWER, {"padding": "x" * 1_000_001}, headers_extra=headers)
    assert_graphql_error(response, 413, "PAYLOAD_TOO_LARGE", accept or JSON)


async def test_429_is_a_graphql_response_with_retry_after(app_with: AppWith) -> None:
    async with app_with(rate_limit_per_second=0.5, rate_limit_burst=1) as api:
        await api.query(VIEWER)
        response = await api.post(VIEWER, headers_extra={"Accept": GRAPHQL_RESPONSE_JSON})
        assert_graphql_error(response, 429, "RATE_LIMITED", GRAPHQL_RESPONSE_JSON)
        assert int(response.headers["Retry-After"]) >= 1
        transport: httpx.ASGITransport = api.client._transport  # type: ignore[assignment]
        error, headers = await refused_through_gql(transport.app, api.key)  # type: ignore[arg-type]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert int(headers["retry-after"]) >= 1


async def test_concurrent_requests_over_the_limit_get_a_graphql_429(app_with: AppWith) -> None:
    async with app_with(max_concurrent_requests_per_key=1, body_read_timeout_seconds=5) as api:
        release = asyncio.Event()

        async def held_upload() -> AsyncIterator[bytes]:
            yield b'{"query": "{ viewer { __typename } }"'
            await release.wait()  # in flight until the second request was answered
            yield b"}"

        first = asyncio.ensure_future(
            api.client.post(
                "/graphql",
                content=held_upload(),
                headers={"Authorization": f"Bearer {api.key}", "Content-Type": JSON},
            )
        )
        await asyncio.sleep(0.1)
        second = await api.post(VIEWER)
        release.set()
        assert (await first).status_code == 200
    assert_graphql_error(second, 429, "TOO_MANY_CONCURRENT_REQUESTS", JSON)
    assert second.headers["Retry-After"] == "1"


async def test_408_is_a_graphql_response(app_with: AppWith) -> None:
    async with app_with(body_read_timeout_seconds=0.2) as api:

        async def stalled() -> AsyncIterator[bytes]:
            yield b'{"query": '
            await asyncio.sleep(1.0)  # past the deadline: answered before this wakes
            yield b'"{ viewer { __typename } }"}'

        response = await api.client.post(
            "/graphql",
            content=stalled(),
            headers={
                "Authorization": f"Bearer {api.key}",
                "Content-Type": JSON,
                "Accept": GRAPHQL_RESPONSE_JSON,
            },
        )
    assert_graphql_error(response, 408, "REQUEST_TIMEOUT", GRAPHQL_RESPONSE_JSON)
    assert response.headers["Connection"] == "close"


@asynccontextmanager
async def app_without_database() -> AsyncIterator[FastAPI]:
    settings = Settings(database_url=None, auth_cache_seconds=0, auth_failure_rate_per_second=0)
    app = create_app(settings, database_url=UNREACHABLE_DATABASE, webhook_worker=False)
    async with app.router.lifespan_context(app):
        yield app


async def test_503_is_a_graphql_response_on_graphql_and_rest_elsewhere() -> None:
    async with app_without_database() as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://okr.test") as client:
            graphql = await client.post(
                "/graphql",
                json={"query": VIEWER},
                headers={"Authorization": "Bearer okr_some-key", "Accept": GRAPHQL_RESPONSE_JSON},
            )
            rest = await client.post(
                "/integrations/github/00000000-0000-0000-0000-000000000000", content=b"{}"
            )
        error, headers = await refused_through_gql(app, "okr_some-key")
    assert_graphql_error(graphql, 503, "DATABASE_UNAVAILABLE", GRAPHQL_RESPONSE_JSON)
    assert graphql.headers["Retry-After"] == "5"
    assert error["extensions"]["code"] == "DATABASE_UNAVAILABLE"
    assert headers["retry-after"] == "5"
    assert rest.status_code == 503
    assert rest.headers["content-type"] == JSON
    assert rest.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
    assert rest.headers["Retry-After"] == "5"


async def test_rest_routes_keep_their_error_shape(api: Api) -> None:
    response = await api.client.post(
        "/integrations/github/00000000-0000-0000-0000-000000000000",
        content=b"x" * 1_000_001,
        headers={"Accept": GRAPHQL_RESPONSE_JSON},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == JSON
    assert response.json() == {
        "error": {
            "code": "PAYLOAD_TOO_LARGE",
            "message": "The request body is larger than 1000000 bytes.",
        }
    }
