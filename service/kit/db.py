"""Engine and sessions. The engine is built by the application's lifespan, never at import."""

import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from service.kit.settings import Settings

T = TypeVar("T")
# A round trip that reads nothing: it begins SQLAlchemy's transaction, or finds out whether a
# pooled connection is still alive.
EMPTY_STATEMENT = text("SELECT")


def create_engine(url: str, settings: Settings) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        # No ping before each checkout (three round trips with asyncpg): a dead connection
        # shows on first use, the pool then drops every connection older than it, and the
        # request's first statements are retried once (kit.db.on_a_live_connection).
        pool_pre_ping=False,
        # Error messages reach the logs: never with the values (secrets, users' text) bound.
        hide_parameters=True,
        connect_args={"server_settings": server_settings(settings)},
    )


def server_settings(settings: Settings) -> dict[str, str]:
    """Session settings of every connection (PostgreSQL takes milliseconds; 0 is off).

    The timeouts bound what one request can hold: a runaway statement is cancelled, and a
    transaction left idle (a request stuck between statements) is ended with its session,
    releasing its locks, instead of pinning a pooled connection forever.
    """
    return {
        "application_name": "okr-service",
        "statement_timeout": _milliseconds(settings.database_statement_timeout_seconds),
        "idle_in_transaction_session_timeout": _milliseconds(
            settings.database_idle_in_transaction_timeout_seconds
        ),
    }


def _milliseconds(seconds: float) -> str:
    return str(math.ceil(seconds * 1000))  # never rounds a short timeout down to "off"


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: objects returned in a payload stay readable after commit.
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One unit of work: committed when the block ends normally, rolled back otherwise."""
    async with sessionmaker() as session, session.begin():
        yield session


TENANT_ROLE = "okr_tenant"  # made by migration 0004, with the row-level security policies
TENANT_SETTING = "okr.organization_id"
# Transaction-local: the role and the tenant end with the transaction, so a pooled
# connection never carries them into the next request. The organization's existence comes
# with them (a JWT names one the database may not know). Planned and permission-checked
# before the switch, so the EXISTS is not filtered by it.
_ENTER_TENANT = text(
    "SELECT set_config('role', 'okr_tenant', true),"
    " set_config('okr.organization_id', :organization, true),"
    " EXISTS (SELECT FROM organizations WHERE id = :organization_id)"
)


async def enter_tenant(db: AsyncSession, organization_id: UUID) -> bool:
    """Run the rest of `db`'s transaction as the tenant role, inside one organization: from
    here on PostgreSQL's row-level security hides every other organization's rows, whatever
    a query forgets. One statement. False (and no switch worth keeping) when the
    organization does not exist."""
    result = await db.execute(
        _ENTER_TENANT, {"organization": str(organization_id), "organization_id": organization_id}
    )
    return bool(result.one()[2])


async def on_a_live_connection(db: AsyncSession, first_step: Callable[[], Awaitable[T]]) -> T:
    """The request's first statements, tried again once on a fresh connection when the
    pooled one turns out dead (the database restarted, a connection was terminated). Pooled
    connections are not pinged before use (a round trip on every request): the first
    statement finds out, and nothing has been done yet that a retry could repeat."""
    try:
        return await first_step()
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
    await db.rollback()  # hands back the dead connection; the next statement takes another
    return await first_step()


@asynccontextmanager
async def live_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A pooled connection seen to be up, for a caller that holds it and talks to the driver
    directly (LISTEN): SQLAlchemy only learns that a connection died from its own
    statements, so one runs first, and a dead connection is swapped once."""
    for attempt in range(2):
        async with engine.connect() as connection:
            try:
                await connection.execute(EMPTY_STATEMENT)
                await connection.rollback()  # no transaction left open (LISTEN waits for its end)
            except DBAPIError as error:
                if error.connection_invalidated and attempt == 0:
                    continue
                raise
            yield connection
            return
