"""Engine and sessions. The engine is built by the application's lifespan, never at import."""

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from service.kit.settings import Settings


def create_engine(url: str, settings: Settings) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_pre_ping=True,
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
