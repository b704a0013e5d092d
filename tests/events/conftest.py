"""These tests subscribe endpoints nobody listens on: what they are owed is given up after
each test, so no later test's worker has to work through it first."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


@pytest.fixture(autouse=True)
async def nothing_left_owed(engine: AsyncEngine) -> AsyncIterator[None]:
    yield
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE webhook_deliveries SET status = 'DEAD' "
                "WHERE status IN ('PENDING', 'DELIVERING', 'FAILED') "
                "AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE url LIKE :unheard)"
            ),
            {"unheard": "http://127.0.0.1:9/%"},
        )
