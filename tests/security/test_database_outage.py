"""Fault test: the database goes away under load, then comes back.

PostgreSQL itself is shared and cannot be stopped here, so a TCP proxy stands between a
dedicated app and the server; cutting it closes every connection and refuses new ones,
which is what the app sees when PostgreSQL stops. While cut: /readyz and GraphQL answer
503 DATABASE_UNAVAILABLE (never a 500). Restored: the app recovers by itself (no restart),
and every write it acknowledged before the cut is there.
"""

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from okr_service.app import create_app
from okr_service.kit.settings import Settings
from tests.conftest import new_organization


class TcpProxy:
    """Forwards 127.0.0.1:port to the database; `cut()` drops everything, `restore()` undoes.

    The upstream is a TCP address, or a Unix socket path (the embedded PostgreSQL's).
    """

    def __init__(self, upstream_host: str, upstream_port: int, unix_socket: str | None) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.unix_socket = unix_socket
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.accept, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if self.unix_socket:
                up_reader, up_writer = await asyncio.open_unix_connection(self.unix_socket)
            else:
                up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self.pipe(source, sink))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        sink.close()
        self.writers.discard(sink)

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()  # new connections refused
        for writer in list(self.writers):  # open ones dropped
            writer.transport.abort()
        self.writers.clear()
        await self.server.wait_closed()
        self.server = None

    async def stop(self) -> None:
        if self.server is not None:
            await self.cut()
        for task in list(self.tasks):
            task.cancel()


@dataclass
class Load:
    """Writers (createTeam) and readers hitting the app until stopped; every answer kept."""

    client: httpx.AsyncClient
    key: str
    acknowledged: list[str] = field(default_factory=list)  # teams the app said it created
    answers: list[tuple[float, int, str]] = field(default_factory=list)  # (at, status, code)
    running: bool = True

    async def post(self, query: str, variables: dict[str, object]) -> httpx.Response:
        return await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self.key}"},
        )

    def record(self, response: httpx.Response) -> dict[str, object]:
        body = response.json()
        code = "OK"
        if body.get("errors"):  # a 503 too: a GraphQL response, with Retry-After
            code = body["errors"][0]["extensions"]["code"]
            assert response.status_code != 503 or response.headers["retry-after"]
        self.answers.append((time.monotonic(), response.status_code, code))
        return dict(body)

    async def writer(self) -> None:
        while self.running:
            name = f"team-{uuid4().hex[:12]}"
            response = await self.post(
                "mutation($input: CreateTeamInput!) { createTeam(input: $input) "
                "{ team { id } userErrors { code } } }",
                {"input": {"name": name}},
            )
            body = self.record(response)
            if response.status_code == 200 and not body.get("errors"):
                self.acknowledged.append(name)
            await asyncio.sleep(0.005)

    async def reader(self) -> None:
        while self.running:
            self.record(await self.post("{ teams(first: 10) { edges { node { name } } } }", {}))
            await asyncio.sleep(0.005)


async def wait_for(condition: Callable[[], Awaitable[bool]], limit: float = 30.0) -> float:
    """Seconds until `await condition()` is true."""
    started = time.monotonic()
    while not await condition():
        assert time.monotonic() - started < limit, "timed out"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


@pytest.fixture
async def proxied(database_url: str) -> AsyncIterator[tuple[FastAPI, TcpProxy]]:
    url = make_url(database_url)
    port = int(str(url.query.get("port") or url.port or 5432))
    socket_dir = url.query.get("host")  # an embedded server listens on a Unix socket only
    socket = f"{socket_dir}/.s.PGSQL.{port}" if socket_dir else None
    proxy = TcpProxy(url.host or "127.0.0.1", port, socket)
    await proxy.start()
    direct = url.difference_update_query(["host", "port"])
    proxied_url = direct.set(host="127.0.0.1", port=proxy.port).render_as_string(
        hide_password=False
    )
    settings = Settings(database_url=None, auth_cache_seconds=0, rate_limit_per_second=0)
    app = create_app(settings, database_url=proxied_url)
    async with app.router.lifespan_context(app):
        yield app, proxy
    await proxy.stop()


async def test_database_outage_answers_503_and_recovers(
    proxied: tuple[FastAPI, TcpProxy], app: FastAPI, engine: AsyncEngine
) -> None:
    service, proxy = proxied
    organization_id, key = await new_organization(app)  # through the direct connection
    transport = httpx.ASGITransport(app=service)
    async with httpx.AsyncClient(transport=transport, base_url="http://okr.test") as client:

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        async def unready() -> bool:
            response = await client.get("/readyz")
            return response.status_code == 503

        load = Load(client, key)
        workers = [asyncio.create_task(load.writer()) for _ in range(4)]
        workers += [asyncio.create_task(load.reader()) for _ in range(4)]
        await asyncio.sleep(1.0)
        assert await ready()
        before_cut = len(load.acknowledged)
        assert before_cut > 0

        await proxy.cut()
        cut_at = time.monotonic()
        time_to_503 = await wait_for(unready)
        await asyncio.sleep(1.0)  # the load keeps coming while the database is away
        during = [answer for answer in load.answers if answer[0] > cut_at + time_to_503]

        await proxy.start()
        restored_at = time.monotonic()
        time_to_ready = await wait_for(ready)

        async def write_succeeds() -> bool:
            return len(load.acknowledged) > acknowledged_at_restore

        acknowledged_at_restore = len(load.acknowledged)
        time_to_write = await wait_for(write_succeeds)
        await asyncio.sleep(0.5)
        load.running = False
        await asyncio.gather(*workers)

        answers = Counter((status, code) for _, status, code in load.answers)
        print(
            f"\noutage: 503 after {time_to_503 * 1000:.0f} ms; ready again "
            f"{time_to_ready * 1000:.0f} ms and writing {time_to_write * 1000:.0f} ms after "
            f"restore; {len(load.acknowledged)} writes acknowledged; answers {dict(answers)}"
        )
        # While cut, every request got a clear 503, never a 500 or a masked error.
        assert during
        assert {(status, code) for _, status, code in during} == {(503, "DATABASE_UNAVAILABLE")}
        assert set(answers) <= {(200, "OK"), (503, "DATABASE_UNAVAILABLE")}
        response = await load.post("{ viewer { __typename } }", {})
        assert response.status_code == 200
        assert restored_at - cut_at > 1.0

    # No acknowledged write lost.
    async with engine.connect() as connection:
        names = set(
            await connection.scalars(
                text("SELECT name FROM teams WHERE organization_id = :org"),
                {"org": organization_id},
            )
        )
    assert set(load.acknowledged) <= names
    assert len(load.acknowledged) > before_cut
