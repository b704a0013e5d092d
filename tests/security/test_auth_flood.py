"""Made-up API keys cannot flood the key lookup: after a small burst, one client address
without a valid token is answered 429 before any query, a repeated bad key is refused from
memory, and a forged X-Forwarded-For is ignored unless a setting trusts that header."""

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from okr_service.app import create_app
from okr_service.kit.ratelimit import network_of
from okr_service.kit.settings import Settings
from tests.conftest import new_organization

QUERY = {"query": "{ teams(first: 1) { edges { node { id } } } }"}
ATTACKER = "203.0.113.7"
TENANT = "198.51.100.2"
PROXY = "10.0.0.1"
BURST = 5
RATE = 1.0  # per second, per address


def made_up_key() -> str:
    return "okr_" + secrets.token_urlsafe(32)


@dataclass
class Service:
    app: FastAPI
    key: str  # a valid admin key
    lookups: list[str]  # the key lookups (statements on api_keys) sent so far

    @asynccontextmanager
    async def client(self, address: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=self.app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://okr.test") as http:
            yield http


ServiceWith = Callable[..., AbstractAsyncContextManager[Service]]


@pytest.fixture
def service_with(database_url: str) -> ServiceWith:
    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Service]:
        settings = Settings(
            **{
                "database_url": None,
                "rate_limit_per_second": 0,  # the per-key limit is not under test here
                "auth_failure_rate_per_second": RATE,
                "auth_failure_burst": BURST,
                **overrides,
            }
        )
        app = create_app(settings, database_url=database_url, webhook_worker=False)
        async with app.router.lifespan_context(app):
            revocations = app.state.revocations
            if revocations is not None:
                # LISTEN starting empties the key cache: never in the middle of a test.
                async with asyncio.timeout(10):
                    await revocations.listening.wait()
            _, key = await new_organization(app)
            lookups: list[str] = []

            def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
                if "api_keys" in statement:
                    lookups.append(statement)

            event.listen(app.state.engine.sync_engine, "before_cursor_execute", count)
            try:
                yield Service(app, key, lookups)
            finally:
                event.remove(app.state.engine.sync_engine, "before_cursor_execute", count)

    return start


async def post(
    http: httpx.AsyncClient, token: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await http.post(
        "/graphql", json=QUERY, headers={"Authorization": f"Bearer {token}", **(headers or {})}
    )


async def flood(
    http: httpx.AsyncClient, requests: int, headers: Callable[[int], dict[str, str]] | None = None
) -> list[httpx.Response]:
    """`requests` made-up keys, 20 in flight at a time."""
    responses: list[httpx.Response] = []
    for start in range(0, requests, 20):
        batch = range(start, min(start + 20, requests))
        responses += await asyncio.gather(
            *(post(http, made_up_key(), headers(i) if headers else None) for i in batch)
        )
    return responses


def allowed_failures(elapsed: float) -> int:
    """What the address's bucket lets through in `elapsed` seconds."""
    return BURST + int(RATE * elapsed) + 1


async def test_a_flood_of_made_up_keys_is_cut_off_while_a_valid_key_keeps_working(
    service_with: ServiceWith,
) -> None:
    async with (
        service_with() as service,
        service.client(ATTACKER) as attacker,
        service.client(TENANT) as tenant,
    ):
        assert (await post(tenant, service.key)).status_code == 200  # cached from now
        lookups_before = len(service.lookups)
        started = time.monotonic()
        flooding = asyncio.ensure_future(flood(attacker, 300))
        tenant_answers = []
        while not flooding.done():
            tenant_answers.append((await post(tenant, service.key)).status_code)
        responses = await flooding
        elapsed = time.monotonic() - started

    statuses = [response.status_code for response in responses]
    assert set(statuses) == {401, 429}
    assert statuses.count(401) <= allowed_failures(elapsed)
    limited = [response for response in responses if response.status_code == 429]
    assert all(int(response.headers["retry-after"]) >= 1 for response in limited)
    codes = {response.json()["errors"][0]["extensions"]["code"] for response in limited}
    assert codes == {"RATE_LIMITED"}
    # Each refused key cost one lookup; the 429s cost none (the tenant's key is cached).
    assert len(service.lookups) - lookups_before <= allowed_failures(elapsed)
    assert tenant_answers
    assert set(tenant_answers) == {200}


async def test_a_valid_key_known_at_a_flooded_address_keeps_working(
    service_with: ServiceWith,
) -> None:
    """A NAT shared with the attacker: the key that worked before skips the address budget."""
    async with service_with() as service, service.client(ATTACKER) as shared:
        assert (await post(shared, service.key)).status_code == 200
        responses = await flood(shared, 60)
        assert 429 in {response.status_code for response in responses}
        assert (await post(shared, service.key)).status_code == 200
        assert (await post(shared, made_up_key())).status_code == 429


async def test_a_fresh_valid_key_opening_many_requests_at_once_is_not_limited(
    service_with: ServiceWith,
) -> None:
    """A dashboard opening with a key this process has not yet seen: all its parallel
    requests are charged once, and given back once the key proves valid. (The per-key
    limit on requests in flight is another guard, off here.)"""
    async with (
        service_with(max_concurrent_requests_per_key=0) as service,
        service.client(TENANT) as office,
    ):
        responses = await asyncio.gather(*(post(office, service.key) for _ in range(30)))
        assert [response.status_code for response in responses] == [200] * 30
        # ...and the address's budget for failures is untouched by it.
        failures = await flood(office, BURST)
        assert [response.status_code for response in failures] == [401] * BURST


async def test_a_repeated_bad_key_is_refused_from_memory(service_with: ServiceWith) -> None:
    async with service_with(auth_failure_rate_per_second=0) as service:
        bad = made_up_key()
        async with service.client(ATTACKER) as attacker:
            statuses = [(await post(attacker, bad)).status_code for _ in range(20)]
    assert statuses == [401] * 20
    assert len(service.lookups) == 1


async def test_a_forged_forwarded_for_is_ignored_by_default(service_with: ServiceWith) -> None:
    async with service_with() as service, service.client(ATTACKER) as attacker:
        responses = await flood(attacker, 40, lambda i: {"X-Forwarded-For": f"192.0.2.{i}"})
    assert [response.status_code for response in responses].count(429) >= 40 - BURST - 2


async def test_a_trusted_proxy_header_names_the_client(service_with: ServiceWith) -> None:
    """Behind a proxy that appends the client's address: one bucket per client, and the
    addresses the client itself wrote before the proxy's are ignored."""
    async with (
        service_with(trusted_proxy_header="X-Forwarded-For") as service,
        service.client(PROXY) as proxy,
    ):
        responses = await flood(
            proxy, 40, lambda i: {"X-Forwarded-For": f"192.0.2.{i}, {ATTACKER}"}
        )
        assert [response.status_code for response in responses].count(429) >= 40 - BURST - 2
        other_client = {"X-Forwarded-For": TENANT}
        assert (await post(proxy, made_up_key(), other_client)).status_code == 401
        assert (await post(proxy, service.key, other_client)).status_code == 200


def test_an_ipv6_host_gets_one_bucket_for_its_whole_64() -> None:
    assert network_of("2001:db8::1") == network_of("2001:db8::ffff:1:2") == "2001:db8::/64"
    assert network_of("2001:db8:0:1::1") != network_of("2001:db8::1")
    assert network_of("::ffff:192.0.2.1") == network_of("192.0.2.1") == "192.0.2.1"
