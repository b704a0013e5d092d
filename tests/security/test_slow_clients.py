"""Slow clients cannot starve other tenants: a real uvicorn server on a free port, real
sockets trickling their uploads a byte at a time, the real database.

- a body that does not arrive within `body_read_timeout_seconds` is answered 408 and its
  connection closed, and no database session is held while it is arriving;
- another organization's queries stay fast meanwhile, with a pool far smaller than the
  number of slow uploads;
- one key's requests in flight are bounded (429 with Retry-After), other keys unaffected;
- the service's sessions carry a statement timeout and an idle-in-transaction timeout.
"""

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from okr_service.app import create_app
from okr_service.kit.backpressure import MIN_UPLOAD_BYTES_PER_SECOND, read_body
from okr_service.kit.db import transaction
from okr_service.kit.outage import is_database_unavailable, is_query_timeout
from okr_service.kit.principal import Scope
from okr_service.kit.settings import Settings
from tests.conftest import new_organization

VIEWER = b'{"query": "{ viewer { role } }"}'
IDLE_IN_TRANSACTION = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND application_name = 'okr-service' AND state LIKE 'idle in transaction%'"
)


@dataclass
class Server:
    app: FastAPI
    port: int

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=5)


@asynccontextmanager
async def served(database_url: str, **overrides: Any) -> AsyncIterator[Server]:
    """The app under uvicorn on a free port of 127.0.0.1, started and stopped here."""
    settings = Settings(
        database_url=None, auth_cache_seconds=0, rate_limit_per_second=0, **overrides
    )
    app = create_app(settings, database_url=database_url, webhook_worker=False)
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        await until_started(server)
        yield Server(app, listening.getsockname()[1])
    finally:
        server.should_exit = True
        await serving
        listening.close()


async def until_started(server: uvicorn.Server) -> None:
    for _ in range(1000):
        if server.started:
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("uvicorn did not start")


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float  # from the headers sent to the answer read
    closed: bool  # the server closed the connection after answering


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    status = int((await reader.readline()).split()[1])
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, await reader.readexactly(int(headers.get("content-length", 0)))


async def slow_upload(port: int, key: str, declared: int = 100_000, every: float = 0.2) -> Answer:
    """POST /graphql announcing `declared` bytes, then sending one every `every` seconds
    until the server answers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"POST /graphql HTTP/1.1\r\nHost: okr.test\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n".encode()
    )
    started = time.monotonic()

    async def trickle() -> None:
        with contextlib.suppress(ConnectionError):
            for _ in range(declared):
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(every)

    trickling = asyncio.create_task(trickle())
    try:
        status, headers, body = await asyncio.wait_for(read_answer(reader), timeout=8)
        seconds = time.monotonic() - started
        closed = False  # unless the server closes it within two seconds
        with contextlib.suppress(TimeoutError, ConnectionError):
            closed = await asyncio.wait_for(reader.read(), timeout=2) == b""
        return Answer(status, headers, body, seconds, closed)
    finally:
        trickling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await trickling
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def viewer(client: httpx.AsyncClient, key: str) -> httpx.Response:
    return await client.post(
        "/graphql",
        content=VIEWER,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )


async def test_slow_uploads_hold_no_session_and_starve_no_one(
    database_url: str, engine: AsyncEngine
) -> None:
    # 8 slow uploads against a pool of 2: before the fix each took a connection (idle in
    # transaction) as soon as its headers arrived, and every other request waited.
    async with served(
        database_url,
        body_read_timeout_seconds=2.0,
        database_pool_size=2,
        database_max_overflow=0,
        max_concurrent_requests_per_key=0,
    ) as server:
        _, slow_key = await new_organization(server.app, scopes=[Scope.READ])
        _, other_key = await new_organization(server.app)
        async with server.client() as client:
            for key in (slow_key, other_key):  # both keys work (and are known to work)
                assert (await viewer(client, key)).status_code == 200
            uploads = [asyncio.create_task(slow_upload(server.port, slow_key)) for _ in range(8)]
            await asyncio.sleep(0.5)  # every slow upload is in, trickling

            async with engine.connect() as connection:
                assert await connection.scalar(IDLE_IN_TRANSACTION) == 0
            assert server.app.state.engine.pool.checkedout() == 0
            latencies = []
            for _ in range(5):
                started = time.monotonic()
                response = await viewer(client, other_key)
                latencies.append(time.monotonic() - started)
                assert response.status_code == 200, response.text
                assert response.json()["data"]["viewer"]["role"] == "ADMIN"
            assert not any(upload.done() for upload in uploads)  # still uploading meanwhile
            answers = await asyncio.gather(*uploads)

    print(f"\nother tenant during 8 slow uploads: max {max(latencies) * 1000:.0f} ms")
    assert max(latencies) < 2.0, latencies
    for answer in answers:
        assert answer.status == 408, answer
        assert orjson.loads(answer.body)["errors"][0]["extensions"]["code"] == "REQUEST_TIMEOUT"
        assert answer.headers["connection"] == "close"
        assert answer.closed
        assert 1.9 < answer.seconds < 4.0, answer.seconds


async def test_one_key_cannot_take_every_slot(database_url: str) -> None:
    async with served(
        database_url, body_read_timeout_seconds=1.5, max_concurrent_requests_per_key=2
    ) as server:
        _, busy_key = await new_organization(server.app, scopes=[Scope.READ])
        _, other_key = await new_organization(server.app, scopes=[Scope.READ])
        async with server.client() as client:
            for key in (busy_key, other_key):
                assert (await viewer(client, key)).status_code == 200
            uploads = [asyncio.create_task(slow_upload(server.port, busy_key)) for _ in range(2)]
            await asyncio.sleep(0.3)

            refused = await viewer(client, busy_key)
            assert refused.status_code == 429, refused.text
            assert refused.headers["retry-after"] == "1"
            [error] = refused.json()["errors"]
            assert error["extensions"]["code"] == "TOO_MANY_CONCURRENT_REQUESTS"
            assert (await viewer(client, other_key)).status_code == 200

            assert [answer.status for answer in await asyncio.gather(*uploads)] == [408, 408]
            assert (await viewer(client, busy_key)).status_code == 200  # its slots are free


async def test_sessions_carry_statement_and_idle_timeouts(database_url: str) -> None:
    settings = Settings(
        database_url=None,
        auth_cache_seconds=0,
        database_statement_timeout_seconds=0.3,
        database_idle_in_transaction_timeout_seconds=0.3,
    )
    app = create_app(settings, database_url=database_url, webhook_worker=False)
    async with app.router.lifespan_context(app):
        sessionmaker = app.state.sessionmaker
        async with transaction(sessionmaker) as db:
            shown = await db.execute(
                text(
                    "SELECT current_setting('statement_timeout'),"
                    " current_setting('idle_in_transaction_session_timeout')"
                )
            )
            assert tuple(shown.one()) == ("300ms", "300ms")

        started = time.monotonic()
        with pytest.raises(DBAPIError, match="statement timeout"):
            async with transaction(sessionmaker) as db:
                await db.execute(text("SELECT pg_sleep(5)"))
        assert time.monotonic() - started < 2

        with pytest.raises(DBAPIError):  # the server ended the idle transaction's session
            await idle_in_transaction(sessionmaker, seconds=1.0)


async def idle_in_transaction(
    sessionmaker: async_sessionmaker[AsyncSession], seconds: float
) -> None:
    async with transaction(sessionmaker) as db:
        await db.execute(text("SELECT 1"))
        await asyncio.sleep(seconds)
        await db.execute(text("SELECT 1"))


async def test_a_statement_over_its_time_limit_is_not_an_outage(engine: AsyncEngine) -> None:
    """A cancelled statement means the database is up: no 503 inviting a retry."""
    async with engine.connect() as connection:
        await connection.execute(text("SET statement_timeout = '20ms'"))
        with pytest.raises(DBAPIError) as caught:
            await connection.execute(text("SELECT pg_sleep(1)"))
        await connection.rollback()
    assert is_query_timeout(caught.value)
    assert not is_database_unavailable(caught.value)


async def test_a_slow_but_steady_upload_earns_its_time() -> None:
    """Bytes arriving at the minimum pace extend the deadline; a trickle does not."""
    chunk = b"x" * (MIN_UPLOAD_BYTES_PER_SECOND // 10)  # 0.1 s earned per chunk

    def upload(chunks: int, pause: float) -> Any:
        sent = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            await asyncio.sleep(pause)
            sent += 1
            return {"type": "http.request", "body": chunk, "more_body": sent < chunks}

        return receive

    # 12 chunks 0.08 s apart: 0.96 s in all against 0.3 s + 0.1 s earned per chunk.
    assert await read_body(upload(12, 0.08), 0.3) == chunk * 12
    with pytest.raises(TimeoutError):  # the same bytes, five times slower
        await read_body(upload(12, 0.4), 0.3)
