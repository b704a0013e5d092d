"""Rate limits shared through Redis (OKR_REDIS_URL): two apps on one Redis, as two
replicas, count each caller in one bucket, for requests and for failed authentications
alike; the keys expire when their bucket has drained and name no caller, whatever it
sends; and when Redis stops or hangs, each app falls back to its own buckets: still
limiting, never a 500, counted in okr_rate_limit_store_errors_total."""

import asyncio
import collections
import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any
from uuid import uuid4

import httpx
import pytest
import redis.asyncio
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from okr_service.app import create_app
from okr_service.kit.redis_buckets import LOCAL_SECONDS
from okr_service.kit.settings import Settings
from tests.conftest import new_organization
from tests.kit.redis_server import RedisServer, shared_redis_url

QUERY = {"query": "{ __typename }"}
TENANT = "198.51.100.2"
ATTACKER = "203.0.113.7"
PROXY = "10.0.0.1"
RATE = 0.1  # per second: one unit leaks in 10 s, so no test lasts long enough to see one
SLOW_MACHINE_TIMEOUT = 5.0  # where sharing is under test, never the fallback
REASONS = ("timeout", "connection", "other")
ERRORS = "okr_rate_limit_store_errors_total"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url, server = shared_redis_url()
    yield url
    if server is not None:
        server.stop()


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of this test's own: tests never see each other's buckets."""
    chosen = f"okr-test:{uuid4().hex[:12]}:"
    yield chosen
    async with redis.asyncio.from_url(redis_url) as client:
        async for key in client.scan_iter(match=f"{chosen}*"):
            await client.delete(key)


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis this test may stop or freeze."""
    server = RedisServer()
    yield server
    server.stop()


@contextlib.asynccontextmanager
async def replicas(database_url: str, count: int, **overrides: Any) -> AsyncIterator[list[FastAPI]]:
    """`count` apps with the same settings on the run's database: replicas of one service."""
    settings = Settings(**{"database_url": None, "auth_cache_seconds": 0, **overrides})
    apps: list[FastAPI] = []
    async with contextlib.AsyncExitStack() as running:
        for _ in range(count):
            app = create_app(settings, database_url=database_url, webhook_worker=False)
            await running.enter_async_context(app.router.lifespan_context(app))
            apps.append(app)
        yield apps


@contextlib.asynccontextmanager
async def clients(apps: Sequence[FastAPI], address: str) -> AsyncIterator[list[httpx.AsyncClient]]:
    """A client of each app, all from `address`."""
    async with contextlib.AsyncExitStack() as open_clients:
        yield [
            await open_clients.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app, client=(address, 40000)),
                    base_url="http://okr.test",
                )
            )
            for app in apps
        ]


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", **headers}


def made_up_key() -> str:
    return "okr_" + secrets.token_urlsafe(32)


async def all_store_errors(http: httpx.AsyncClient) -> float:
    """Failed checks, all reasons (the metrics are the process's: both apps count there)."""
    return sum([await store_errors(http, reason) for reason in REASONS])


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


async def store_errors(http: httpx.AsyncClient, reason: str) -> float:
    response = await http.get("/metrics")
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == ERRORS and sample.labels == {"reason": reason}:
                return sample.value
    return 0.0


async def test_two_replicas_share_one_bucket_per_key(
    database_url: str, redis_url: str, prefix: str
) -> None:
    burst = 5
    async with replicas(
        database_url,
        2,
        redis_url=redis_url,
        redis_key_prefix=prefix,
        redis_timeout_seconds=SLOW_MACHINE_TIMEOUT,
        rate_limit_per_second=RATE,
        rate_limit_burst=burst,
        auth_failure_rate_per_second=0,
    ) as apps:
        _, key = await new_organization(apps[0])
        async with clients(apps, TENANT) as http:
            before = await all_store_errors(http[0])
            started = time.monotonic()
            answers = await asyncio.gather(
                *(http[i % 2].post("/graphql", json=QUERY, headers=bearer(key)) for i in range(20))
            )
            elapsed = time.monotonic() - started
            assert await all_store_errors(http[0]) == before  # every check went to Redis
    statuses = collections.Counter(answer.status_code for answer in answers)
    assert set(statuses) == {200, 429}
    # One bucket for both: per process, each would have let `burst` through.
    assert burst <= statuses[200] <= burst + RATE * elapsed
    refused = [answer for answer in answers if answer.status_code == 429]
    assert {error_code(answer) for answer in refused} == {"RATE_LIMITED"}
    # As in one process: the wait until one unit has leaked out of a full bucket.
    assert {int(answer.headers["retry-after"]) for answer in refused} <= {9, 10}


async def test_failed_authentications_are_counted_once_for_every_replica(
    database_url: str, redis_url: str, prefix: str
) -> None:
    burst = 3
    async with replicas(
        database_url,
        2,
        redis_url=redis_url,
        redis_key_prefix=prefix,
        redis_timeout_seconds=SLOW_MACHINE_TIMEOUT,
        rate_limit_per_second=0,
        auth_failure_rate_per_second=RATE,
        auth_failure_burst=burst,
    ) as apps:
        _, key = await new_organization(apps[0])
        async with clients(apps, ATTACKER) as http:
            # A valid key is charged on each replica until verified there, then given back.
            valid = [
                await http[i % 2].post("/graphql", json=QUERY, headers=bearer(key))
                for i in range(2 * burst)
            ]
            made_up = [
                await http[i % 2].post("/graphql", json=QUERY, headers=bearer(made_up_key()))
                for i in range(2 * burst)
            ]
            # Keys each replica has seen to work skip the exhausted budget.
            after = [await one.post("/graphql", json=QUERY, headers=bearer(key)) for one in http]
    assert [answer.status_code for answer in valid] == [200] * (2 * burst)
    # Per process, each replica would have looked `burst` made-up keys up.
    assert [answer.status_code for answer in made_up] == [401] * burst + [429] * burst
    assert {error_code(answer) for answer in made_up[burst:]} == {"RATE_LIMITED"}
    assert [answer.status_code for answer in after] == [200, 200]


async def test_keys_expire_when_drained_and_never_name_the_caller(
    database_url: str, redis_url: str, prefix: str
) -> None:
    burst = 5
    hostile = "A" * 8000  # what a client may write in the trusted proxy header's last entry
    async with replicas(
        database_url,
        1,
        redis_url=redis_url,
        redis_key_prefix=prefix,
        redis_timeout_seconds=SLOW_MACHINE_TIMEOUT,
        rate_limit_per_second=RATE,
        rate_limit_burst=burst,
        auth_failure_rate_per_second=RATE,
        auth_failure_burst=burst,
        trusted_proxy_header="X-Forwarded-For",
    ) as apps:
        _, key = await new_organization(apps[0])
        async with clients(apps, PROXY) as (http,):
            from_tenant = bearer(key, **{"x-forwarded-for": TENANT})
            for _ in range(2):  # unknown, then known: its address's bucket, then its own
                assert (await http.post("/graphql", json=QUERY, headers=from_tenant)).is_success
            forged = bearer(made_up_key(), **{"x-forwarded-for": hostile})
            assert (await http.post("/graphql", json=QUERY, headers=forged)).status_code == 401
    async with redis.asyncio.from_url(redis_url) as client:
        keys = [stored async for stored in client.scan_iter(match=f"{prefix}*")]
        families = collections.Counter(
            stored.decode().removeprefix(prefix).split(":")[0] for stored in keys
        )
        # The tenant's address, its key, the forged address; the verified key's charge on
        # failed authentications was given back (its bucket drained, its key gone).
        assert families == {"caller": 3, "failed-auth": 1, "failed-auth-all": 1}
        for stored in keys:
            assert len(stored) <= len(prefix) + len("failed-auth-all:") + 32
            for secret_or_personal in (key, hashlib.sha256(key.encode()).hexdigest(), TENANT):
                assert secret_or_personal.encode() not in stored
            assert b"AAAA" not in stored
            assert (await client.get(stored) or b"").isdigit()  # a time, nothing of the caller
            # One unit in each bucket: it drains, and its key goes, within 1 / rate.
            assert 0 < await client.pttl(stored) <= 1000 / RATE


async def test_a_stopped_redis_falls_back_to_each_process_own_buckets(
    database_url: str, own_redis: RedisServer, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    burst = 3
    async with replicas(
        database_url,
        1,
        redis_url=own_redis.url,
        redis_key_prefix=prefix,
        redis_timeout_seconds=SLOW_MACHINE_TIMEOUT,  # a stopped server refuses at once
        rate_limit_per_second=RATE,
        rate_limit_burst=burst,
        auth_failure_rate_per_second=0,
    ) as apps:
        _, key = await new_organization(apps[0])
        async with clients(apps, TENANT) as (http,):
            shared = [await http.post("/graphql", json=QUERY, headers=bearer(key)) for _ in "ab"]
            async with redis.asyncio.from_url(own_redis.url) as client:
                assert len([stored async for stored in client.scan_iter(match=f"{prefix}*")]) == 1
            own_redis.stop()
            before = await store_errors(http, "connection")
            with caplog.at_level(logging.WARNING, logger="okr_service.kit.redis_buckets"):
                local = [
                    await http.post("/graphql", json=QUERY, headers=bearer(key))
                    for _ in range(burst + 2)
                ]
            errors = await store_errors(http, "connection") - before
    assert [answer.status_code for answer in shared] == [200, 200]
    # The process's own bucket starts empty, and limits all the same: never a 500.
    assert [answer.status_code for answer in local] == [200] * burst + [429] * 2
    # One failure sends the process to its own buckets for a while: not one per request.
    assert errors == 1
    warnings = [record for record in caplog.records if record.name.endswith("redis_buckets")]
    assert len(warnings) == 1
    assert f"per process for {LOCAL_SECONDS:.0f} s" in warnings[0].getMessage()


async def test_a_hung_redis_costs_one_timeout_then_the_process_limits_alone(
    database_url: str, own_redis: RedisServer, prefix: str
) -> None:
    burst, timeout = 3, 1.0
    async with replicas(
        database_url,
        1,
        redis_url=own_redis.url,
        redis_key_prefix=prefix,
        redis_timeout_seconds=timeout,
        rate_limit_per_second=RATE,
        rate_limit_burst=burst,
        auth_failure_rate_per_second=RATE,
        auth_failure_burst=burst,
    ) as apps:
        _, key = await new_organization(apps[0])
        async with clients(apps, TENANT) as (http,):
            assert (await http.post("/graphql", json=QUERY, headers=bearer(key))).is_success
            before = await store_errors(http, "timeout")
            own_redis.pause()
            try:
                started = time.monotonic()
                answers = [
                    await http.post("/graphql", json=QUERY, headers=bearer(key))
                    for _ in range(burst + 1)
                ]
                elapsed = time.monotonic() - started
            finally:
                own_redis.resume()
            errors = await store_errors(http, "timeout") - before
    assert [answer.status_code for answer in answers] == [200] * burst + [429]
    assert errors == 1  # the first request waited `timeout`; the others did not ask Redis
    assert elapsed < timeout + 3.0


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("redis_url", "http://127.0.0.1:6379"),
        ("redis_url", "127.0.0.1:6379"),
        ("redis_key_prefix", ""),
        ("redis_key_prefix", "okr ratelimit:"),
        ("redis_key_prefix", "x" * 65),
        ("redis_timeout_seconds", 0),
        ("redis_timeout_seconds", 60),
    ],
)
def test_redis_settings_refuse_what_would_misbehave(setting: str, value: object) -> None:
    with pytest.raises(ValidationError, match=setting):
        Settings(**{"database_url": None, setting: value})
