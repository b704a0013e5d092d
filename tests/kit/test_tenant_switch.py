"""The tenant switch travels with the transaction's BEGIN: one round trip for both."""

from collections.abc import Iterator
from uuid import uuid4

import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from okr_service.auth.service import PrincipalCache
from okr_service.kit.db import FusingConnection, create_sessionmaker, enter_tenant
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
async def test_a_read_is_begin_with_the_switch_then_its_reads_then_commit(
    api: Api, sql_statements: StatementCounter
) -> None:
    await api.query("{ viewer { role } }")  # verifies and caches the key
    start = len(sql_statements.messages)
    await api.query("{ teams(first: 5) { edges { node { id name } } } }")
    messages = sql_statements.messages[start:]
    # (SQLAlchemy reports its statements before the BEGIN it sends with them.)
    begins = [m for m in messages if m.startswith("BEGIN")]
    assert len(begins) == 1, messages
    assert f"set_config('okr.organization_id', '{api.organization_id}', true)" in begins[0]
    assert sum("set_config" in m for m in messages) == 1, messages  # no switch of its own
    assert messages[-1].startswith("COMMIT"), messages


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
