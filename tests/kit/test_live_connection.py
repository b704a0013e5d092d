"""Pooled connections are not pinged before each request (that costs round trips on every
request); one that died meanwhile (a restarted database, a terminated backend) is found by
the request's first statement, and the request goes on, on a fresh connection."""

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Api

TERMINATE_IDLE = text(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'"
)
IDLE = text(
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'"
)


async def test_requests_after_the_pool_connections_died_succeed(
    api: Api, engine: AsyncEngine
) -> None:
    await asyncio.gather(*(api.query("{ viewer { role } }") for _ in range(4)))  # a few pooled
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        terminated = (await connection.execute(TERMINATE_IDLE)).all()
        assert terminated
        for _ in range(50):
            if (await connection.execute(IDLE)).scalar_one() == 0:
                break
            await asyncio.sleep(0.05)
    for _ in range(6):
        data = await api.query("{ viewer { role } teams(first: 1) { edges { node { id } } } }")
        assert data["viewer"]["role"] == "ADMIN"
