"""Behind PgBouncer in transaction mode (conftest.py): what a transaction pooler changes.

Each transaction may run on another server connection, and every server connection serves
many clients: nothing a transaction sets may outlive it (the tenant switch, the timeouts),
no statement may stay prepared by name, and what needs one session for long (LISTEN,
migrations) goes to PostgreSQL directly.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from okr_service.app import create_app
from okr_service.cli import migrate
from okr_service.graphql.subscriptions.feed import Subscriber, SubscriptionFeeds, id_floor
from okr_service.kit.db import create_engine, create_sessionmaker
from okr_service.kit.outage import is_query_timeout
from okr_service.kit.principal import Principal, Scope
from okr_service.kit.settings import Settings, get_settings
from okr_service.webhooks.worker import DeliveryWorker
from tests import factories
from tests.auth.test_revocation_push import Process, revoke, within, write_key
from tests.conftest import Api, new_organization
from tests.scale.pgbouncer.conftest import PgBouncer, pooled_settings
from tests.webhooks.conftest import Receiver, create_endpoint, settings_changed

TEAMS = "{ teams(first: 100) { edges { node { name } } } }"
TRANSACTION_STATE = text(
    "SELECT current_user, current_setting('okr.organization_id', true),"
    " current_setting('statement_timeout'), (SELECT count(*) FROM pg_prepared_statements)"
)


def raw_url(url: str) -> str:
    """asyncpg's form of a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def team_names(api: Api) -> set[str]:
    data = await api.query(TEAMS)
    return {edge["node"]["name"] for edge in data["teams"]["edges"]}


async def server_connection_states(engine: AsyncEngine, transactions: int) -> list[Any]:
    """What `transactions` concurrent plain transactions find on their server connections."""

    async def one() -> Any:
        async with engine.connect() as connection:
            state = (await connection.execute(TRANSACTION_STATE)).one()
            await asyncio.sleep(0.05)  # overlap, so every server connection is used
            return state

    return list(await asyncio.gather(*(one() for _ in range(transactions))))


async def test_a_tenant_switch_never_outlives_its_transaction(
    api: Api, other_api: Api, engine: AsyncEngine, database_url: str
) -> None:
    """Two organizations' requests interleave on two shared server connections: each sees
    its own rows only, and a plain transaction afterwards finds no tenant, no role, no
    prepared statement left on any of them."""
    await factories.team(api, "Ours")
    await factories.team(other_api, "Theirs")

    # 8 in flight per key: below the per-key concurrency limit.
    seen = await asyncio.gather(*(team_names(each) for each in [api, other_api] * 8))

    assert seen == [{"Ours"}, {"Theirs"}] * 8
    login_user = make_url(database_url).username or "postgres"
    for user, organization, _timeout, prepared in await server_connection_states(engine, 6):
        assert user == login_user
        assert organization in (None, "")
        assert prepared == 0


async def test_every_transaction_sets_the_timeouts_and_leaves_them_behind(
    engine: AsyncEngine, pgbouncer: PgBouncer, database_url: str
) -> None:
    states = await server_connection_states(engine, 4)
    assert {timeout for _, _, timeout, _ in states} == {"30s"}  # the settings' default
    # A client that sets nothing finds the server's own default on the shared connections.
    direct = await asyncpg.connect(raw_url(database_url))
    pooled = await asyncpg.connect(raw_url(pgbouncer.url_for(database_url)), statement_cache_size=0)
    try:
        server_default = await direct.fetchval("SHOW statement_timeout")
        for _ in range(4):
            assert await pooled.fetchval("SHOW statement_timeout") == server_default
    finally:
        await asyncio.gather(direct.close(), pooled.close())


async def test_every_request_begins_with_the_timeouts(api: Api, engine: AsyncEngine) -> None:
    """The requests' own transactions (tenant switch included) begin as the plain ones do."""
    begins: list[str] = []
    drivers: dict[int, Any] = {}

    def logged(query: Any) -> None:
        if query.query.lstrip().upper().startswith("BEGIN"):
            begins.append(query.query)

    def log_queries(_dbapi_connection: Any, record: Any, *_: Any) -> None:
        driver = record.driver_connection
        if id(driver) not in drivers:
            drivers[id(driver)] = driver
            driver.add_query_logger(logged)

    event.listen(engine.sync_engine, "checkout", log_queries)
    try:
        for _ in range(3):
            await team_names(api)
    finally:
        event.remove(engine.sync_engine, "checkout", log_queries)
        for driver in drivers.values():
            driver.remove_query_logger(logged)
    assert len(begins) >= 3
    assert all("SET LOCAL statement_timeout = 30000" in begin for begin in begins), begins


@asynccontextmanager
async def pooled_engine(
    pgbouncer: PgBouncer, database_url: str, **settings: float
) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(
        pgbouncer.url_for(database_url), pooled_settings(database_url, **settings)
    )
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_a_slow_statement_is_cancelled_through_pgbouncer(
    pgbouncer: PgBouncer, database_url: str
) -> None:
    async with pooled_engine(
        pgbouncer, database_url, database_statement_timeout_seconds=0.2
    ) as engine:
        started = time.monotonic()
        with pytest.raises(DBAPIError) as raised:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT pg_sleep(5)"))
        assert is_query_timeout(raised.value)
        assert time.monotonic() - started < 3


async def test_a_transaction_left_idle_is_ended_through_pgbouncer(
    pgbouncer: PgBouncer, database_url: str
) -> None:
    async with pooled_engine(
        pgbouncer, database_url, database_idle_in_transaction_timeout_seconds=0.2
    ) as engine:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            await asyncio.sleep(0.6)
            with pytest.raises(DBAPIError) as raised:
                await connection.execute(text("SELECT 1"))
        # PostgreSQL ended the session; PgBouncer closed the client's connection with it.
        assert raised.value.connection_invalidated
        async with engine.connect() as connection:  # the pooler hands out a live one again
            assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1


@asynccontextmanager
async def pooled_process(pgbouncer: PgBouncer, database_url: str) -> AsyncIterator[Process]:
    """An API process with its own key cache, requests through PgBouncer."""
    settings = pooled_settings(database_url, auth_cache_seconds=60.0, query_planner_verify=False)
    app = create_app(settings, database_url=pgbouncer.url_for(database_url), webhook_worker=False)
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(app.state.revocations.listening.wait(), timeout=5)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://okr.test") as http:
            yield Process(app, http)


async def test_revocations_are_heard_through_the_direct_url(
    pgbouncer: PgBouncer, database_url: str
) -> None:
    """A transaction pooler cannot hold a LISTEN: the listener connects directly, and a
    key revoked in one process is still refused by another within a second."""
    async with AsyncExitStack() as stack:
        revoking = await stack.enter_async_context(pooled_process(pgbouncer, database_url))
        other = await stack.enter_async_context(pooled_process(pgbouncer, database_url))
        organization_id, admin_key = await new_organization(revoking.app)
        admin = Api(revoking.http, organization_id, admin_key)
        key_id, secret = await write_key(admin)
        assert await other.status(secret) == 200
        assert other.caches(secret)

        await revoke(admin, key_id)

        assert await within(1.0, lambda: other.refuses(secret)) < 1.0


async def test_webhook_workers_are_woken_through_the_direct_url(
    app: FastAPI, api: Api, pgbouncer: PgBouncer, database_url: str
) -> None:
    """A worker whose polling would take a minute delivers a new event at once: the NOTIFY
    of its commit reached the worker's LISTEN, on its direct connection."""
    receiver = Receiver()
    await receiver.start()
    settings = pooled_settings(
        database_url,
        webhook_allowed_cidrs="127.0.0.1/32",
        webhook_allow_http=True,
        webhook_poll_interval_seconds=60,
    )
    worker = DeliveryWorker(pgbouncer.url_for(database_url), settings)
    await worker.start()
    try:
        with settings_changed(app, webhook_allowed_cidrs="127.0.0.1/32", webhook_allow_http=True):
            await create_endpoint(api, receiver.url)
        await factories.team(api, "First")
        await receiver.wait_for(1, within=10)  # the worker is up, listening, then idle
        await factories.team(api, "Second")
        await receiver.wait_for(2, within=5)
    finally:
        await worker.stop(grace=0)
        await receiver.stop()


async def test_subscription_feeds_are_woken_through_the_direct_url(
    app: FastAPI, api: Api, pgbouncer: PgBouncer, database_url: str
) -> None:
    """A process behind the pooler, whose fallback read would take a minute, hands a new
    event to its subscriber at once: the commit's NOTIFY reached the feeds' LISTEN, on
    their direct connection."""
    settings = pooled_settings(database_url, subscription_poll_interval_seconds=60)
    pooled_url = pgbouncer.url_for(database_url)
    engine = create_engine(pooled_url, settings)
    feeds = SubscriptionFeeds(pooled_url, settings, create_sessionmaker(engine))
    await feeds.start()
    try:
        async with asyncio.timeout(10):
            await feeds.listening.wait()
        principal = Principal(api.organization_id, frozenset(Scope), "feed-test", "feed test")
        mine = Subscriber(
            principal, start=id_floor(time.time()), types=(), subject_id=None, capacity=10
        )
        with feeds.joined(mine):
            await factories.team(api, "Heard through the direct URL")
            row = await mine.next(5.0)
        assert row is not None
        assert row.type == "team.created"
    finally:
        await feeds.stop()
        await engine.dispose()


async def test_migrations_go_to_the_direct_url(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migrating needs one long transaction under an advisory lock: the direct URL serves
    it even when the pooler's answers nothing."""
    monkeypatch.setenv("OKR_DATABASE_POOLER", "transaction")
    monkeypatch.setenv("OKR_DATABASE_DIRECT_URL", database_url)
    monkeypatch.setenv("OKR_DATABASE_CONNECT_TIMEOUT_SECONDS", "0")
    get_settings.cache_clear()
    try:
        await migrate("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    finally:
        get_settings.cache_clear()


def test_a_transaction_pooler_needs_a_direct_url() -> None:
    with pytest.raises(ValidationError, match="OKR_DATABASE_DIRECT_URL"):
        Settings(database_url="postgresql://db.example/okr", database_pooler="transaction")


async def test_readiness_is_answered_through_pgbouncer(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://okr.test") as http:
        assert (await http.get("/readyz")).status_code == 200
