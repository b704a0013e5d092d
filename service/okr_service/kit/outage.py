"""The database being unreachable is not a bug: it is answered 503 DATABASE_UNAVAILABLE.

Requests that meet a lost or refused connection (PostgreSQL down, restarting, a network cut,
the pool exhausted) end with HTTP 503, a coded error body (GraphQL-shaped on /graphql,
kit/problems.py) and `Retry-After`, instead of a masked 500; the pool reconnects by itself
once the database is back.
"""

import asyncpg  # type: ignore[import-untyped]
from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import exc as sa

from okr_service.kit.problems import error_response

RETRY_AFTER_SECONDS = 5

_ASYNCPG_UNAVAILABLE = (
    asyncpg.exceptions.PostgresConnectionError,  # SQLSTATE class 08: connection exceptions
    asyncpg.exceptions.OperatorInterventionError,  # 57P0x: admin/crash shutdown, starting up
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
)


class DatabaseUnavailable(Exception):
    """Raised at the request boundary; answered 503."""

    def __init__(self) -> None:
        super().__init__("The database is unavailable.")


# What an unreachable database raises up to the request boundary (e.g. while the key is
# checked): each gets `database_error_response`. An OSError there is a socket to PostgreSQL.
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    DatabaseUnavailable,
    sa.DBAPIError,
    sa.TimeoutError,
    OSError,
    asyncpg.exceptions.PostgresError,
    asyncpg.exceptions.InterfaceError,
)


def is_database_unavailable(error: BaseException | None) -> bool:
    """Whether `error` (or what caused it) is a lost or refused database connection."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, DatabaseUnavailable | sa.TimeoutError | OSError):
            return True  # TimeoutError: no pooled connection came free in time
        if isinstance(error, sa.DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(error, asyncpg.exceptions.QueryCanceledError):
            return False  # a statement over its time limit: the database is up
        if isinstance(error, _ASYNCPG_UNAVAILABLE):
            return True
        if isinstance(error, asyncpg.exceptions.InterfaceError) and (
            "connection is closed" in str(error) or "connection was closed" in str(error)
        ):
            return True
        original = getattr(error, "orig", None)  # SQLAlchemy's wrapper of the driver's error
        error = (
            original
            if isinstance(original, BaseException)
            else (error.__cause__ or error.__context__)
        )
    return False


async def database_error_response(request: Request, error: Exception) -> Response:
    """Exception handler for driver and connection errors reaching the request boundary:
    503 with `Retry-After`, in the shape of the route (kit/problems.py)."""
    if is_database_unavailable(error):
        return error_response(
            request,
            503,
            "DATABASE_UNAVAILABLE",
            "The database is unavailable; retry later.",
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    raise error  # anything else stays an ordinary 500


def is_query_timeout(error: BaseException | None) -> bool:
    """Whether `error` (or what caused it) is a statement cancelled at its time limit."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, asyncpg.exceptions.QueryCanceledError):
            return True
        error = getattr(error, "orig", None) or error.__cause__ or error.__context__
    return False
