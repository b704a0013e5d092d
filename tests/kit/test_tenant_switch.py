"""The tenant switch: a write's travels with its transaction's BEGIN (one round trip for
both); a read's connection keeps its tenant between reads, switched only when it last served
another organization."""

from collections.abc import Iterator
from uuid import uuid4

import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from okr_service.auth.service import PrincipalCache
from okr_service.kit.db import (
    TENANT_ROLE,
    FusingConnection,
    create_engine,
    create_sessionmaker,
    enter_tenant,
    enter_tenant_session,
)
from tests import factories
from tests.conftest import Api, StatementCounter

WHO = text("SELECT current_user, current_setting('okr.organization_id', true) AS tenant")


@pytest.fixture
def key_cache(app: FastAPI) -> Iterator[None]:
    """Verified keys cached, as in production: a request then starts with the switch."""
    saved = app.state.principal_cache
    app.state.principal_cache = PrincipalCache(ttl=60)
    yield
    app.state.principal_cache = saved


@pytest.mark.usefixtures("key_cache")
async def test_a_write_is_begin_with_the_switch_then_its_statements_then_commit(
    api: Api, sql_statements: StatementCounter
) -> None:
    await api.query("{ viewer { role } }")  # verifies and caches the key
    start = len(sql_statements.messages)
    await api.ok("createTeam", {"name": "Fused"}, "team { id }")
    messages = sql_statements.messages[start:]
    # (SQLAlchemy reports its statements before the BEGIN it sends with them.)
    begins = [m for m in messages if m.startswith("BEGIN")]
    assert len(begins) == 1, messages
    assert f"set_config('okr.organization_id', '{api.organization_id}', true)" in begins[0]
    switches = [m for m in messages if f"set_config('role', '{TENANT_ROLE}'" in m]
    assert len(switches) == 1, messages  # no switch of its own
    assert messages[-1].startswith("COMMIT"), messages


@pytest.mark.usefixtures("key_cache")
async def test_a_read_sends_its_statements_only_on_a_connection_already_its_tenants(
    api: Api, app: FastAPI, sql_statements: StatementCounter
) -> None:
    read = "{ teams(first: 5) { edges { node { id name } } } }"
    await api.query("{ viewer { role } }")  # verifies and caches the key
    await app.state.tenant_sessions.engine.dispose()  # a fresh connection: it switches
    start = len(sql_statements.messages)
    await api.query(read)
    first = sql_statements.messages[start:]
    switch = f"set_config('okr.organization_id', '{api.organization_id}', false)"
    switches = [m for m in first if switch in m]
    assert len(switches) == 1, first
    assert switches[0].startswith("RESET ROLE;")  # one message: back to owner, then in
    start = len(sql_statements.messages)
    await api.query(read)
    again = sql_statements.messages[start:]
    # Its reads (the test app answers each query by both paths) and nothing else: no
    # BEGIN, no switch, no COMMIT.
    assert again, again
    assert all("FROM teams" in message for message in again), again


@pytest.mark.usefixtures("key_cache")
async def test_reads_of_two_organizations_on_one_connection_each_see_their_own(
    api: Api, other_api: Api, app: FastAPI
) -> None:
    """One pooled connection serving both, in turns: each read switches it and sees only
    its organization's rows (a forgotten switch would show the other's)."""
    mine = await factories.team(api, "Mine")
    theirs = await factories.team(other_api, "Theirs")
    tenant_sessions = app.state.tenant_sessions
    await tenant_sessions.engine.dispose()
    saved = tenant_sessions.engine
    one_connection = app.state.settings.model_copy(
        update={"database_pool_size": 1, "database_max_overflow": 0}
    )
    url = saved.url.render_as_string(hide_password=False)
    single = create_engine(url, one_connection, autocommit=True)
    tenant_sessions.engine, tenant_sessions._sessionmaker = single, create_sessionmaker(single)
    try:
        for _ in range(3):
            for client, team in ((api, mine), (other_api, theirs)):
                teams = (await client.query("{ teams { edges { node { id } } } }"))["teams"]
                assert [edge["node"]["id"] for edge in teams["edges"]] == [team]
        assert single.sync_engine.pool.checkedin() == 1  # all of it on one connection
    finally:
        tenant_sessions.engine, tenant_sessions._sessionmaker = saved, create_sessionmaker(saved)
        await single.dispose()


async def test_a_failed_switch_leaves_the_connection_with_no_tenant(api: Api, app: FastAPI) -> None:
    tenant_sessions = app.state.tenant_sessions
    async with tenant_sessions.session(api.organization_id) as db:
        assert db is not None
        assert await _who(db) == ("okr_tenant", str(api.organization_id))
        driver = (await (await db.connection()).get_raw_connection()).driver_connection
        assert not await enter_tenant_session(db, uuid4())  # no such organization
        assert driver.tenant is None  # the next read on it switches, whoever it is for
        assert (await _who(db))[0] != "okr_tenant"  # and until then it is no tenant's
    async with tenant_sessions.session(uuid4()) as refused:
        assert refused is None


async def test_the_tenant_sessions_switch_nothing_but_their_own_connections(
    api: Api, engine: AsyncEngine
) -> None:
    """The primary's connections keep their tenant per transaction only."""
    async with create_sessionmaker(engine)() as db:
        with pytest.raises(RuntimeError):
            await enter_tenant_session(db, api.organization_id)
        await db.rollback()


async def test_the_switch_is_transaction_local_and_reports_a_missing_organization(
    api: Api, engine: AsyncEngine
) -> None:
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as db:
        assert await enter_tenant(db, api.organization_id)
        assert await _who(db) == ("okr_tenant", str(api.organization_id))
        await db.commit()
        # The next transaction on the same connection starts as the connecting user.
        assert (await _who(db))[0] != "okr_tenant"
        await db.rollback()

        assert not await enter_tenant(db, uuid4())
        assert (await _who(db))[0] != "okr_tenant"  # no switch without the organization
        await db.rollback()


async def test_a_transaction_already_begun_switches_with_a_statement_of_its_own(
    api: Api, engine: AsyncEngine
) -> None:
    async with create_sessionmaker(engine)() as db:
        await db.execute(text("SELECT 1"))  # begins the transaction
        assert await enter_tenant(db, api.organization_id)
        assert await _who(db) == ("okr_tenant", str(api.organization_id))
        await db.rollback()
    async with create_sessionmaker(engine)() as db:
        await db.execute(text("SELECT 1"))
        assert not await enter_tenant(db, uuid4())
        await db.rollback()


async def test_a_failed_begin_with_its_companion_never_returns_to_the_pool(
    engine: AsyncEngine,
) -> None:
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as db:
        connection = await db.connection()
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, FusingConnection)
        driver.with_next_begin = "SELECT 1 / 0"
        with pytest.raises(DBAPIError):
            await db.execute(text("SELECT 1"))
        assert driver.is_closed()
    # The pool hands out working connections, outside any transaction.
    for _ in range(3):
        async with sessionmaker() as db:
            assert (await db.execute(text("SELECT 1"))).scalar() == 1
            await db.rollback()


async def _who(db: AsyncSession) -> tuple[str, str | None]:
    row = (await db.execute(WHO)).one()
    return row.current_user, row.tenant or None
