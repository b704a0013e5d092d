"""Tests run on a real PostgreSQL: `OKR_TEST_DATABASE_URL` when set, else an embedded one.

Each run migrates a fresh database once. Each test gets its own organization: every query is
tenant-scoped, so tests never see each other's rows, and commits stay real commits.
"""

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from okr_service.app import create_app
from okr_service.auth.service import create_api_key
from okr_service.kit.clock import Clock
from okr_service.kit.db import transaction
from okr_service.kit.migrate import upgrade_to_head
from okr_service.kit.principal import Scope
from okr_service.kit.settings import Settings
from okr_service.organizations.service import create_organization

EMBEDDED_DATA_DIR = Path(__file__).resolve().parents[1] / ".okr-data" / "test"


@pytest.fixture(scope="session")
def server_url() -> str:
    configured = os.environ.get("OKR_TEST_DATABASE_URL")
    if configured:
        return configured
    from okr_service.kit.embedded import start_embedded_postgres

    return start_embedded_postgres(EMBEDDED_DATA_DIR)


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    """A brand-new database for this run, migrated to head, dropped afterwards."""
    name = f"okr_test_{uuid4().hex[:12]}"
    admin_url = make_url(server_url).set(drivername="postgresql+asyncpg")
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    engine = create_async_engine(url)
    await upgrade_to_head(engine)
    await engine.dispose()
    yield url
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    await admin.dispose()


@pytest.fixture(scope="session")
async def app(database_url: str) -> AsyncIterator[FastAPI]:
    # No key cache: statement counts must not depend on how long a test took. No rate
    # limits: tests drive one key fast and send many bad tokens (tests/security covers the
    # limits on apps of their own).
    # Every query the suite sends runs through both read paths, which must agree.
    settings = Settings(
        database_url=None,
        auth_cache_seconds=0,
        rate_limit_per_second=0,
        auth_failure_rate_per_second=0,
        query_planner_verify=True,
    )
    # Tests that need delivery run their own workers.
    application = create_app(settings, database_url=database_url, webhook_worker=False)
    async with application.router.lifespan_context(application):
        yield application


class ManualClock(Clock):
    """A clock a test moves by hand."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


@pytest.fixture
def clock(app: FastAPI) -> Iterator[ManualClock]:
    """The app's clock, stopped at the real now until the test moves it."""
    manual, saved = ManualClock(datetime.now(UTC)), app.state.clock
    app.state.clock = manual
    yield manual
    app.state.clock = saved


@pytest.fixture(scope="session")
def engine(app: FastAPI) -> AsyncEngine:
    found: AsyncEngine = app.state.engine
    return found


class StatementCounter:
    """The SQL statements sent on the app's connections: those SQLAlchemy runs (its cursor
    events) and those sent through asyncpg directly (asyncpg's query log, which leaves out
    SQLAlchemy's prepared statements). `statements` leaves out transaction control, the
    pool's liveness ping, and a read's connection switching tenant (sent only when the
    connection last served another organization: kit.db.enter_tenant_session), but keeps a
    statement sent along with a BEGIN; `messages` keeps every round trip, in order."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.messages: list[str] = []

    def sqlalchemy(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.statements.append(statement)
        self.messages.append(statement)

    def asyncpg(self, logged: Any) -> None:
        self.messages.append(logged.query.strip())
        statement = logged.query.strip()
        if statement.upper().startswith("BEGIN"):  # kit.db.FusingConnection: BEGIN; <one>
            statement = statement.partition(";")[2].strip()
        if statement not in ("", ";") and not statement.upper().startswith(TRANSACTION_CONTROL):
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "RESET ROLE")


def engines_of(app: FastAPI) -> list[AsyncEngine]:
    """The app's engines: the primary's, and the tenant sessions' that reads use."""
    tenant_sessions = app.state.tenant_sessions
    return [app.state.engine] + ([tenant_sessions.engine] if tenant_sessions else [])


@pytest.fixture
def sql_statements(app: FastAPI) -> Iterator[StatementCounter]:
    """Every SQL statement the app sends while the test runs."""
    counter = StatementCounter()
    logged: dict[int, Any] = {}

    def log_queries(_dbapi_connection: Any, record: Any, *_: Any) -> None:
        driver = record.driver_connection
        if id(driver) not in logged:
            logged[id(driver)] = driver
            driver.add_query_logger(counter.asyncpg)

    engines = engines_of(app)
    for engine in engines:
        event.listen(engine.sync_engine, "before_cursor_execute", counter.sqlalchemy)
        event.listen(engine.sync_engine, "checkout", log_queries)
    yield counter
    for engine in engines:
        event.remove(engine.sync_engine, "checkout", log_queries)
        event.remove(engine.sync_engine, "before_cursor_execute", counter.sqlalchemy)
    for driver in logged.values():
        driver.remove_query_logger(counter.asyncpg)


@dataclass
class Api:
    """A client of one organization, speaking GraphQL over HTTP."""

    client: httpx.AsyncClient
    organization_id: UUID
    key: str

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        headers_extra: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        return await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.key}", **(headers_extra or {})},
            **kwargs,
        )

    async def query(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run an operation that must succeed without GraphQL errors; returns `data`."""
        response = await self.post(query, variables)
        body = response.json()
        assert response.status_code == 200, body
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def errors(
        self, query: str, variables: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Run an operation that must fail with GraphQL errors; returns them."""
        body = (await self.post(query, variables)).json()
        assert body.get("errors"), body
        errors: list[dict[str, Any]] = body["errors"]
        return errors

    async def mutate(self, name: str, input_: dict[str, Any], selection: str) -> dict[str, Any]:
        """Run mutation `name(input:)` and return its payload (object and userErrors)."""
        data = await self.query(
            f"mutation($input: {name[0].upper()}{name[1:]}Input!) "
            f"{{ {name}(input: $input) {{ {selection} userErrors {{ field message code }} }} }}",
            {"input": input_},
        )
        payload: dict[str, Any] = data[name]
        return payload

    async def ok(self, name: str, input_: dict[str, Any], selection: str = "") -> dict[str, Any]:
        """A mutation that must succeed; returns its payload."""
        object_field = OBJECT_FIELDS[name]
        payload = await self.mutate(name, input_, selection or f"{object_field} {{ id }}")
        assert payload["userErrors"] == [], payload["userErrors"]
        return payload

    async def user_errors(self, name: str, input_: dict[str, Any]) -> list[dict[str, Any]]:
        """A mutation that must be refused; returns its user errors."""
        object_field = OBJECT_FIELDS[name]
        payload = await self.mutate(name, input_, f"{object_field} {{ id }}")
        assert payload[object_field] is None, payload
        assert payload["userErrors"], payload
        errors: list[dict[str, Any]] = payload["userErrors"]
        return errors


OBJECT_FIELDS = {
    "createTeam": "team",
    "updateTeam": "team",
    "createCycle": "cycle",
    "updateCycle": "cycle",
    "createObjective": "objective",
    "updateObjective": "objective",
    "deleteObjective": "objective",
    "createKeyResult": "keyResult",
    "updateKeyResult": "keyResult",
    "deleteKeyResult": "keyResult",
    "recordCheckIn": "checkIn",
    "createInitiative": "initiative",
    "updateInitiative": "initiative",
    "linkInitiative": "initiative",
    "unlinkInitiative": "initiative",
    "createAlignment": "alignment",
    "deleteAlignment": "alignment",
}


async def new_organization(app: FastAPI, scopes: list[Scope] | None = None) -> tuple[UUID, str]:
    async with transaction(app.state.sessionmaker) as db:
        organization, secret = await create_organization(db, f"Org {uuid4().hex[:8]}")
        if scopes is not None:
            _, secret = await create_api_key(db, organization.id, "scoped", scopes)
    return organization.id, secret


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://okr.test") as client:
        yield client


@pytest.fixture
async def api(app: FastAPI, http: httpx.AsyncClient) -> Api:
    """An admin client of a fresh organization."""
    organization_id, key = await new_organization(app)
    return Api(http, organization_id, key)


@pytest.fixture
async def other_api(app: FastAPI, http: httpx.AsyncClient) -> Api:
    """An admin client of another organization, for cross-tenant probes."""
    organization_id, key = await new_organization(app)
    return Api(http, organization_id, key)
