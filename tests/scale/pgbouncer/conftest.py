"""A real PgBouncer in transaction mode in front of the test PostgreSQL, and the app through
it. Its pool is tiny (two server connections per database), so consecutive transactions
of the app's many client connections keep landing on shared server connections.

PgBouncer is Debian's package (`install-pgbouncer.sh` installs it when missing). Under
CI=true these tests must run; elsewhere they are skipped when it cannot be installed.
"""

from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from okr_service.app import create_app
from okr_service.kit.settings import Settings
from tests.scale import skip_or_fail
from tests.scale.servers import PgBouncer, Unavailable, pgbouncer_binary, running_pgbouncer

SERVER_CONNECTIONS = 2  # per database and user: every transaction shares these


@pytest.fixture(scope="session")
def pgbouncer(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgBouncer]:
    try:
        pgbouncer_binary()
    except Unavailable as missing:
        skip_or_fail(missing)
    folder = tmp_path_factory.mktemp("pgbouncer")
    with running_pgbouncer(server_url, folder, pool_size=SERVER_CONNECTIONS) as bouncer:
        yield bouncer


def pooled_settings(database_url: str, **overrides: object) -> Settings:
    """The suite's settings (tests/conftest.py), behind a transaction pooler."""
    fields: dict[str, object] = {
        "database_url": None,
        "database_pooler": "transaction",
        "database_direct_url": database_url,
        "auth_cache_seconds": 0,
        "rate_limit_per_second": 0,
        "auth_failure_rate_per_second": 0,
        "query_planner_verify": True,
    }
    return Settings(**(fields | overrides))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
async def app(database_url: str, pgbouncer: PgBouncer) -> AsyncIterator[FastAPI]:
    """The suite's app (tests/conftest.py), every request through PgBouncer."""
    application = create_app(
        pooled_settings(database_url),
        database_url=pgbouncer.url_for(database_url),
        webhook_worker=False,
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
def engine(app: FastAPI) -> AsyncEngine:
    """The app's engine, through PgBouncer (here too: a session fixture of the suite's
    would keep the direct app's engine once another folder's tests made it)."""
    found: AsyncEngine = app.state.engine
    return found
