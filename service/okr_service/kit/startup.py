"""Before a command uses the database: which one (configured, or embedded), and waiting for
it to answer. A platform starts the service and its database together, so a database that
does not answer yet is waited for, with backoff, for a bounded time; then the command
exits with one line saying why, not with a traceback."""

import asyncio
import time

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from okr_service.kit.settings import Settings

FIRST_RETRY_SECONDS = 0.25
LONGEST_RETRY_SECONDS = 5.0
SHORTEST_ATTEMPT_SECONDS = 2.0
# A database starting up, or not reachable yet, is worth another try. Anything else (a
# wrong password, a database that does not exist) is a configuration error: no retry.
NOT_UP_YET = (
    OSError,  # refused, unknown host, timed out (TimeoutError is an OSError)
    asyncpg.CannotConnectNowError,  # "the database system is starting up"
    asyncpg.TooManyConnectionsError,
)


class DatabaseUnreachable(Exception):
    """The database did not answer in time, or refused the connection."""


def resolve_database_url(settings: Settings) -> str:
    """The configured server, or an embedded one started in `data_dir`."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    try:
        from okr_service.kit.embedded import start_embedded_postgres
    except ImportError as missing:
        raise RuntimeError(
            "OKR_DATABASE_URL is not set and the embedded PostgreSQL is not installed "
            "(pip install 'okr-service[embedded]')."
        ) from missing

    return start_embedded_postgres(settings.data_dir)


async def wait_for_database(url: str, timeout_seconds: float) -> None:
    """Return once the database at `url` answers a query. Failures of a database not up
    yet are retried (0.25 s apart, doubling up to 5 s) until `timeout_seconds` have passed;
    then, or at once for any other failure, DatabaseUnreachable."""
    deadline = time.monotonic() + timeout_seconds
    delay = FIRST_RETRY_SECONDS
    while True:
        attempt_seconds = max(deadline - time.monotonic(), SHORTEST_ATTEMPT_SECONDS)
        try:
            await asyncio.wait_for(answers(url), attempt_seconds)
            return
        except Exception as error:  # every failure is classified below
            # A database that accepts but never answers runs the attempt out of time (its
            # root cause is then the cancellation): not up yet either.
            cause = error if isinstance(error, TimeoutError) else root_cause(error)
            if not isinstance(cause, NOT_UP_YET):
                raise DatabaseUnreachable(
                    f"{where(url)} refused the connection: {one_line(cause)}"
                ) from None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DatabaseUnreachable(
                    f"{where(url)} did not answer within {timeout_seconds:g} s "
                    f"({one_line(cause)}); check OKR_DATABASE_URL and that the database is up"
                ) from None
        await asyncio.sleep(min(delay, remaining))  # the last try falls on the deadline
        delay = min(delay * 2, LONGEST_RETRY_SECONDS)


async def answers(url: str) -> None:
    # No prepared statement kept (asyncpg's cache, SQLAlchemy's): `url` may be a transaction
    # pooler, whose server connections outlive this one and would keep them.
    engine = create_async_engine(
        url,
        poolclass=NullPool,
        connect_args={"statement_cache_size": 0, "prepared_statement_cache_size": 0},
    )
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


def root_cause(error: BaseException) -> BaseException:
    """The driver's error under SQLAlchemy's wrappers."""
    while True:
        inner: BaseException | None = error.orig if isinstance(error, DBAPIError) else None
        inner = inner or error.__cause__
        if inner is None:
            return error
        error = inner


def where(url: str) -> str:
    """The database's address, without credentials."""
    parsed = make_url(url)
    return f"The database at {parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"


def one_line(error: BaseException) -> str:
    return " ".join(f"{type(error).__name__}: {error}".split())
