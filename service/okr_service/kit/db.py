"""Engine and sessions. The engine is built by the application's lifespan, never at import."""

import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, ClassVar, TypeVar
from uuid import UUID

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from okr_service.kit.outage import is_database_unavailable
from okr_service.kit.settings import Settings

T = TypeVar("T")
APPLICATION_NAME = "okr-service"  # what PostgreSQL's pg_stat_activity shows
# A round trip that reads nothing: it begins SQLAlchemy's transaction, or finds out whether a
# pooled connection is still alive.
EMPTY_STATEMENT = text("SELECT")


def create_engine(
    url: str,
    settings: Settings,
    *,
    connect_timeout: float | None = None,
    direct: bool = False,
    autocommit: bool = False,
) -> AsyncEngine:
    """`connect_timeout`: seconds to give up connecting (asyncpg's default, 60, when None).
    `url` is the service's (a transaction pooler's when `database_pooler` says so) unless
    `direct` (`direct_url`: PostgreSQL itself). `autocommit`: no BEGIN, no COMMIT, each
    statement its own transaction (the tenant sessions' engine: `enter_tenant_session`)."""
    behind_pooler = settings.database_pooler == "transaction" and not direct
    connect_args: dict[str, Any] = (
        transaction_pooler_arguments(settings)
        if behind_pooler
        else {"server_settings": server_settings(settings), "connection_class": FusingConnection}
    )
    if connect_timeout is not None:
        connect_args["timeout"] = connect_timeout
    engine = create_async_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        # No ping before each checkout (three round trips with asyncpg): a dead connection
        # shows on first use, the pool then drops every connection older than it, and the
        # request's first statements are retried once (kit.db.on_a_live_connection).
        pool_pre_ping=False,
        # Error messages reach the logs: never with the values (secrets, users' text) bound.
        hide_parameters=True,
        connect_args=connect_args,
        **({"isolation_level": "AUTOCOMMIT"} if autocommit else {}),
    )
    event.listen(engine.sync_engine, "checkout", _refuse_closed)
    return engine


def _refuse_closed(dbapi_connection: Any, *_: Any) -> None:
    """A connection the server closed while it sat in the pool (a restart, a terminated
    backend: asyncpg has read its goodbye) is refused at checkout, and the pool connects
    afresh: found out without a round trip, before a request relies on it (a read on the
    tenant sessions may send nothing else before its first statement)."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("closed by the server while pooled")


def server_settings(settings: Settings) -> dict[str, str]:
    """Session settings of every connection (PostgreSQL takes milliseconds; 0 is off).

    The timeouts bound what one request can hold: a runaway statement is cancelled, and a
    transaction left idle (a request stuck between statements) is ended with its session,
    releasing its locks, instead of pinning a pooled connection forever.
    """
    return {
        "application_name": APPLICATION_NAME,
        "statement_timeout": _milliseconds(settings.database_statement_timeout_seconds),
        "idle_in_transaction_session_timeout": _milliseconds(
            settings.database_idle_in_transaction_timeout_seconds
        ),
    }


def direct_url(settings: Settings, url: str) -> str:
    """Where what a transaction pooler cannot serve connects (LISTEN, migrations):
    `database_direct_url`, else the service's own `url`."""
    direct = settings.database_direct_url
    return url if direct is None else direct.get_secret_value()


def transaction_pooler_arguments(settings: Settings) -> dict[str, Any]:
    """asyncpg's arguments behind a pooler in transaction mode (PgBouncer before 1.21 keeps
    no prepared statement; later ones only with `max_prepared_statements`).

    A statement prepared by name stays on the server connection that parsed it, which the
    client's next transaction may not get: with both caches off, asyncpg and SQLAlchemy use
    the unnamed statement, parsed again with each execution. The session settings cannot
    go at startup either: PgBouncer refuses startup parameters it does not know, and a
    session setting would stay behind on a server connection shared with other clients.
    """
    return {
        "statement_cache_size": 0,  # asyncpg's
        "prepared_statement_cache_size": 0,  # SQLAlchemy's (its asyncpg dialect)
        "server_settings": {"application_name": APPLICATION_NAME},  # one PgBouncer passes on
        "connection_class": type(
            "TimeoutsOnEveryBegin",
            (FusingConnection,),
            {"on_every_begin": transaction_settings(settings)},
        ),
    }


def transaction_settings(settings: Settings) -> str:
    """The session settings' timeouts, set for one transaction (`SET LOCAL`)."""
    return (
        "SET LOCAL statement_timeout = "
        f"{_milliseconds(settings.database_statement_timeout_seconds)};"
        " SET LOCAL idle_in_transaction_session_timeout = "
        f"{_milliseconds(settings.database_idle_in_transaction_timeout_seconds)};"
    )


class FusingConnection(asyncpg.Connection):  # type: ignore[misc]
    """asyncpg's connection, sending statements along with a transaction's BEGIN: one round
    trip where SQLAlchemy would make several (it sends BEGIN on its own, through asyncpg's
    `Transaction.start` and this `execute`, right before the transaction's first statement).

    - `on_every_begin` goes with every BEGIN. Behind a transaction pooler the timeouts do
      (`SET LOCAL`): each transaction may run on another server connection, so they go with
      each one and end with it, leaving nothing behind for the pooler's other clients, and
      they cover every transaction, its first statement included (tests/scale checks that a
      slow statement is still cancelled through PgBouncer).
    - `with_next_begin` goes with the next BEGIN only (the tenant switch, `enter_tenant`);
      `begin_status` is then the command tag of that statement, the last one sent.
    - `tenant`: the organization this connection's PostgreSQL session belongs to, on the
      tenant sessions' engine only (`enter_tenant_session`); None: not known to be any.
    """

    on_every_begin: ClassVar[str] = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.with_next_begin: str | None = None
        self.begin_status: str | None = None
        self.tenant: UUID | None = None

    async def execute(
        self,
        query: str,
        *args: Any,
        timeout: float | None = None,  # noqa: ASYNC109 (asyncpg's own signature)
    ) -> str:
        companion, self.with_next_begin = self.with_next_begin, None
        if args or not query.startswith("BEGIN"):
            return str(await super().execute(query, *args, timeout=timeout))
        fused = " ".join(part for part in (query, self.on_every_begin, companion) if part)
        # One simple-protocol message, several statements. Should it fail, the connection
        # closes: a transaction begun but not known to asyncpg must never reach the pool.
        try:
            self.begin_status = await super().execute(fused, timeout=timeout)
        except BaseException:
            self.terminate()
            raise
        return str(self.begin_status)


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
_TENANT_SWITCH = (  # formatted with a UUID's own text and a boolean only
    f"SELECT set_config('role', '{TENANT_ROLE}', {{local}}),"  # noqa: S608 (constants only)
    f" set_config('{TENANT_SETTING}', '{{tenant}}', {{local}})"
    " FROM organizations WHERE id = '{tenant}'"
)
SWITCHED = "SELECT 1"  # the switch's command tag when the organization exists


def _tenant_switch(organization_id: UUID, *, local: bool = True) -> str:
    """The statement that makes the rest of a transaction the tenant's. Transaction-local: the
    role and the tenant end with the transaction, so a pooled connection never carries them
    into the next request. Planned (and row-level security applied) before the role changes,
    so it finds the organization whatever the tenant; the switch happens only on the row it
    finds: the command tag says `SELECT 1` when the organization exists, `SELECT 0` (and no
    switch) when it does not (a JWT may name one the database does not know). The ID is a
    UUID's own text, so it is safe to inline: BEGIN's simple protocol takes no parameters."""
    tenant = UUID(str(organization_id))
    return _TENANT_SWITCH.format(tenant=tenant, local="true" if local else "false")


async def enter_tenant(db: AsyncSession, organization_id: UUID) -> bool:
    """Run the rest of `db`'s transaction as the tenant role, inside one organization: from
    here on PostgreSQL's row-level security hides every other organization's rows, whatever
    a query forgets. When the transaction has not begun, the switch travels with its BEGIN
    (one round trip for both). False, and no switch, when the organization does not exist."""
    switch = _tenant_switch(organization_id)
    connection = await db.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    if isinstance(driver, FusingConnection) and not _in_transaction(raw.dbapi_connection):
        driver.with_next_begin = switch
        driver.begin_status = None
        await begin(connection)
        return driver.begin_status == SWITCHED
    result = await connection.exec_driver_sql(switch)
    return len(result.all()) == 1


async def enter_tenant_session(db: AsyncSession, organization_id: UUID) -> bool:
    """`enter_tenant` for a read on the tenant sessions' engine (autocommit, no pooler in
    front: `create_engine(autocommit=True)`), whose connections keep the tenant role and
    organization for their whole PostgreSQL session instead of one transaction. A read
    then costs its own statements only: no BEGIN, no COMMIT, and no switch at all on a
    connection already switched to this organization (a different one switches it, in
    one round trip). Those connections serve nothing else: every checkout goes through
    here, and a connection whose switch failed is trusted with no tenant. False, and no
    switch, when the organization does not exist."""
    connection = await db.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    if not isinstance(driver, FusingConnection) or not raw.dbapi_connection.autocommit:  # type: ignore[union-attr]
        raise RuntimeError("enter_tenant_session needs the tenant sessions' engine")
    if driver.tenant == organization_id:
        return True
    driver.tenant = None  # whatever happens next, not trusted until the switch says
    # Back to the owner's role first: as another tenant, row-level security would hide
    # the organization the switch looks for. One message, two statements, one round trip.
    switch = f"RESET ROLE; {_tenant_switch(organization_id, local=False)}"
    async with driver_errors(connection, switch, ()):
        status = await driver.execute(switch)
    if status != SWITCHED:
        return False
    driver.tenant = organization_id
    return True


class TenantSessions:
    """Sessions for reads on the tenant sessions' engine, each handed out already switched
    to its organization (`enter_tenant_session`): the only way to that engine's
    connections, whose sessions hold a tenant (or, fresh, the owner's role)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessionmaker = create_sessionmaker(engine)

    @asynccontextmanager
    async def session(self, organization_id: UUID) -> AsyncIterator[AsyncSession | None]:
        """A session reading as the tenant; None when the organization does not exist."""
        async with self._sessionmaker() as db:
            entered = await on_a_live_connection(
                db, lambda: enter_tenant_session(db, organization_id)
            )
            yield db if entered else None


def _in_transaction(adapted: Any) -> bool:
    # SQLAlchemy's asyncpg adapter begins its transaction lazily, with the first statement.
    return getattr(adapted, "_transaction", True) is not None


async def begin(connection: AsyncConnection) -> None:
    """Send the BEGIN SQLAlchemy would send with its next statement now, alone, for a caller
    that talks to asyncpg directly on the same connection (its statements must run inside
    the transaction and its tenant switch). Nothing is sent when it has already begun."""
    raw = await connection.get_raw_connection()
    adapted = raw.dbapi_connection
    if _in_transaction(adapted):
        return
    async with driver_errors(connection, "BEGIN", ()):
        await adapted._start_transaction()  # type: ignore[union-attr]


@asynccontextmanager
async def driver_errors(
    connection: AsyncConnection, statement: str, arguments: Sequence[Any]
) -> AsyncIterator[None]:
    """The driver's errors raised as SQLAlchemy raises them (a `DBAPIError`), for work done
    on the driver's connection directly, so the request boundary answers them alike (a
    timeout, an outage) and a lost connection is invalidated: it leaves the pool."""
    try:
        yield
    except DBAPIError:
        raise
    except Exception as error:
        lost = is_database_unavailable(error)
        if lost:
            await connection.invalidate()
        raise DBAPIError.instance(
            statement, arguments, error, Exception, connection_invalidated=lost
        ) from error


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
