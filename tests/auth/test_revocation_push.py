"""A revoked key stops working in every process within a second, although each process
caches verified keys: the revocation is pushed (NOTIFY at commit, LISTEN in every app)."""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from okr_service.app import create_app
from okr_service.auth import keys
from okr_service.auth.revocations import CHANNEL, announce_key_change
from okr_service.auth.service import PrincipalCache, hash_key
from okr_service.kit.principal import Principal, Scope, effective_scopes
from okr_service.kit.settings import Settings
from tests.conftest import Api, new_organization
from tests.graphql.support import uuid_of

QUERY = "{ teams(first: 1) { edges { node { id } } } }"
CACHE_SECONDS = 60.0  # far longer than any test: only the push can end a cached key early


@dataclass
class Process:
    """One API process: its app (own key cache and listener) and an HTTP client of it."""

    app: FastAPI
    http: httpx.AsyncClient

    async def status(self, key: str) -> int:
        response = await self.http.post(
            "/graphql", json={"query": QUERY}, headers={"Authorization": f"Bearer {key}"}
        )
        return response.status_code

    async def refuses(self, key: str) -> bool:
        return await self.status(key) == 401

    def caches(self, key: str) -> bool:
        cache: PrincipalCache = self.app.state.principal_cache
        return cache.get(hash_key(key)) is not None


@asynccontextmanager
async def process(database_url: str) -> AsyncIterator[Process]:
    settings = Settings(
        database_url=None,
        auth_cache_seconds=CACHE_SECONDS,
        rate_limit_per_second=0,
        auth_failure_rate_per_second=0,
    )
    app = create_app(settings, database_url=database_url, webhook_worker=False)
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(app.state.revocations.listening.wait(), timeout=5)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://okr.test") as http:
            yield Process(app, http)


@pytest.fixture
async def two_processes(database_url: str) -> AsyncIterator[tuple[Process, Process]]:
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(process(database_url))
        second = await stack.enter_async_context(process(database_url))
        yield first, second


async def within(seconds: float, condition: Callable[[], Awaitable[bool]]) -> float:
    """Poll `condition` until it holds; the time it took. Fails after `seconds`."""
    started = time.monotonic()
    while not await condition():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def write_key(admin: Api) -> tuple[str, str]:
    """A new `write` key of the admin's organization: its global ID and secret."""
    payload = await admin.mutate(
        "createApiKey", {"name": "sync", "scopes": ["WRITE"]}, "apiKey { id } secret"
    )
    assert payload["userErrors"] == []
    return payload["apiKey"]["id"], payload["secret"]


async def revoke(admin: Api, key_id: str) -> None:
    payload = await admin.mutate("revokeApiKey", {"id": key_id}, "apiKey { revokedAt }")
    assert payload["userErrors"] == []
    assert payload["apiKey"]["revokedAt"] is not None


LISTENING = text(
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = :listen"
).bindparams(listen=f'LISTEN "{CHANNEL}"')


async def terminate_listeners(engine: AsyncEngine) -> None:
    """End every listening connection on the test database, and wait until they are gone."""
    async with engine.connect() as connection:
        # Autocommit: pg_stat_activity is a snapshot taken once per transaction.
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        pids = set((await connection.execute(LISTENING)).scalars())
        assert pids
        for pid in pids:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

        async def gone() -> bool:
            return not pids & set((await connection.execute(LISTENING)).scalars())

        await within(5.0, gone)


async def test_a_key_revoked_in_one_process_is_refused_by_another_within_a_second(
    two_processes: tuple[Process, Process],
) -> None:
    revoking, other = two_processes
    organization_id, admin_key = await new_organization(revoking.app)
    admin = Api(revoking.http, organization_id, admin_key)
    key_id, secret = await write_key(admin)
    assert await revoking.status(secret) == 200
    assert await other.status(secret) == 200
    assert other.caches(secret)  # so only the push can end it before CACHE_SECONDS

    await revoke(admin, key_id)

    assert await revoking.status(secret) == 401
    took = await within(1.0, lambda: other.refuses(secret))
    assert took < 1.0


async def test_revocations_missed_while_not_listening_are_caught_up(
    two_processes: tuple[Process, Process], engine: AsyncEngine
) -> None:
    """The listening connection dies: on reconnecting, the process trusts no cached key."""
    revoking, other = two_processes
    organization_id, admin_key = await new_organization(revoking.app)
    admin = Api(revoking.http, organization_id, admin_key)
    key_id, secret = await write_key(admin)
    assert await other.status(secret) == 200
    other.app.state.revocations.listening.clear()
    await terminate_listeners(engine)

    await revoke(admin, key_id)  # possibly while `other` hears nothing

    await asyncio.wait_for(other.app.state.revocations.listening.wait(), timeout=5)
    assert not other.caches(secret)
    assert await other.status(secret) == 401


async def test_a_revocation_rolled_back_is_not_announced(
    two_processes: tuple[Process, Process],
) -> None:
    first, other = two_processes
    organization_id, admin_key = await new_organization(first.app)
    admin = Api(first.http, organization_id, admin_key)
    key_id, secret = await write_key(admin)
    assert await other.status(secret) == 200
    cache: PrincipalCache = other.app.state.principal_cache
    epoch = cache.epoch
    async with first.app.state.sessionmaker() as db:
        actor = Principal(organization_id, effective_scopes(["admin"]), uuid4(), "admin")
        await keys.revoke_api_key(db, actor, uuid_of(key_id), None)
        await db.rollback()
    # Announcements reach a listener in commit order: once this one is heard, a rolled-back
    # revocation's would have been too.
    async with first.app.state.sessionmaker() as db, db.begin():
        await announce_key_change(db, "a key nobody has")

    async def heard() -> bool:
        return cache.epoch > epoch

    await within(1.0, heard)
    assert other.caches(secret)
    assert await other.status(secret) == 200


def test_a_lookup_overtaken_by_a_revocation_is_not_cached() -> None:
    """A request read the key, then its revocation was heard, then the request finished:
    what it read is stale and must not be cached."""
    cache = PrincipalCache(ttl=60)
    who = Principal(uuid4(), frozenset({Scope.READ}), uuid4(), "reader")
    epoch = cache.epoch
    cache.forget("hash")
    cache.put("hash", None, who, epoch=epoch)
    assert cache.get("hash") is None
    cache.put("hash", None, who, epoch=cache.epoch)
    assert cache.get("hash") is who


def test_refused_keys_are_remembered_briefly_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from okr_service.auth import service

    now = [1000.0]
    monkeypatch.setattr(service.time, "monotonic", lambda: now[0])
    cache = PrincipalCache(ttl=0, refusal_ttl=5, max_entries=2)
    for key in ("a", "b", "c"):
        cache.refuse(key)
    assert not cache.is_refused("a")  # the oldest made room
    assert cache.is_refused("b")
    assert cache.is_refused("c")
    now[0] += 5.001
    assert not cache.is_refused("c")
