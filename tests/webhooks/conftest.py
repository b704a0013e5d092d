"""A real HTTP receiver on 127.0.0.1, in-process delivery workers, and webhook helpers."""

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import pytest
from fastapi import FastAPI
from strawberry.relay import from_base64

from okr_service.kit.settings import Settings
from okr_service.webhooks.worker import DeliveryWorker
from tests.conftest import Api

T = TypeVar("T")
StartWorker = Callable[..., Awaitable[DeliveryWorker]]
StartProcess = Callable[..., subprocess.Popen[bytes]]

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 2  # of worker processes: a killed one's claims are free again that soon

# The environment of a worker process that may deliver to 127.0.0.1 over http.
LOCAL = {"OKR_WEBHOOK_ALLOWED_CIDRS": "127.0.0.1/32", "OKR_WEBHOOK_ALLOW_HTTP": "true"}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"thanks"
    stall: bool = False  # never answer
    delay: float = 0.0  # seconds before answering


class Receiver:
    """A minimal HTTP/1.1 server: records every request, answers from a script (then 200)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.replies: list[Reply] = []
        self.always: Reply | None = None
        # Chooses the answer by the request itself (before `replies` and `always`), if set.
        self.answer: Callable[[Received], Reply | None] | None = None
        self._arrived = asyncio.Event()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while await self._serve_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        request_line = await reader.readline()
        if not request_line:
            return False
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        path = request_line.decode().split(" ")[1]
        self.requests.append(Received(path, headers, body, time.time()))
        self._arrived.set()
        chosen = self.answer(self.requests[-1]) if self.answer else None
        reply = chosen or (self.replies.pop(0) if self.replies else (self.always or Reply()))
        if reply.stall:
            await asyncio.Event().wait()
        await asyncio.sleep(reply.delay)
        head = [f"HTTP/1.1 {reply.status} X", f"content-length: {len(reply.body)}"]
        head += [f"{name}: {value}" for name, value in reply.headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + reply.body)
        await writer.drain()
        return True

    async def wait_for(self, count: int, within: float = 15.0) -> list[Received]:
        """The first `count` requests, once they have arrived (within that many seconds)."""
        deadline = time.monotonic() + within
        while len(self.requests) < count:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"got {len(self.requests)} of {count} requests"
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)
        return self.requests[:count]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def receiver_factory() -> AsyncIterator[Callable[[], Awaitable[Receiver]]]:
    """Starts more receivers; all stop after the test."""
    started: list[Receiver] = []

    async def start() -> Receiver:
        server = Receiver()
        await server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()


@contextmanager
def settings_changed(app: FastAPI, **changes: Any) -> Iterator[None]:
    """Inside the block, the app serves requests with these settings changed."""
    settings: Settings = app.state.settings
    app.state.settings = settings.model_copy(update=changes)
    try:
        yield
    finally:
        app.state.settings = settings


@pytest.fixture(autouse=True)
def local_endpoints_allowed(app: FastAPI) -> Iterator[None]:
    """The API accepts endpoints on 127.0.0.1 over http, as in local development."""
    with settings_changed(app, webhook_allowed_cidrs="127.0.0.1/32", webhook_allow_http=True):
        yield


def worker_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": None,
        "webhook_allowed_cidrs": "127.0.0.1/32",
        "webhook_allow_http": True,
        "webhook_retry_schedule": "0,0.3,0.3",
        "webhook_poll_interval_seconds": 0.5,
        "webhook_lease_seconds": 30,
        "webhook_timeout_seconds": 5,
    }
    return Settings(**(values | overrides))


@pytest.fixture
async def start_worker(database_url: str) -> AsyncIterator[StartWorker]:
    """Starts in-process delivery workers (settings overridable); all stop after the test."""
    workers: list[DeliveryWorker] = []

    async def start(**overrides: Any) -> DeliveryWorker:
        worker = DeliveryWorker(database_url, worker_settings(**overrides))
        await worker.start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        await worker.stop(grace=0)


@pytest.fixture
async def worker_process(database_url: str) -> AsyncIterator[StartProcess]:
    """Starts `python -m okr_service worker` against the test database (more `OKR_*` variables
    given as arguments); kills it afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def start(**variables: str) -> subprocess.Popen[bytes]:
        env = (
            os.environ
            | LOCAL
            | {
                "OKR_DATABASE_URL": database_url,
                "OKR_WEBHOOK_LEASE_SECONDS": str(LEASE_SECONDS),
                "OKR_WEBHOOK_POLL_INTERVAL_SECONDS": "0.2",
            }
            | variables
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "okr_service", "worker"], cwd=ROOT, env=env
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


@pytest.fixture
async def worker(start_worker: Callable[..., Awaitable[DeliveryWorker]]) -> DeliveryWorker:
    return await start_worker()


async def eventually(
    probe: Callable[[], Awaitable[T]], until: Callable[[T], bool], within: float = 15.0
) -> T:
    """Probe until `until(value)` holds; the last value otherwise fails the test."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if until(value):
            return value
        assert time.monotonic() < deadline, f"condition never held; last value: {value!r}"
        await asyncio.sleep(0.1)


ENDPOINT_FIELDS = "id url enabled disabledReason eventTypes teams { id } failingSince"


async def create_endpoint(api: Api, url: str, **fields: Any) -> tuple[str, str]:
    """A new endpoint's global ID and secret."""
    payload = await api.mutate(
        "createWebhookEndpoint", {"url": url, **fields}, "webhookEndpoint { id } secret"
    )
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload["webhookEndpoint"]["id"], payload["secret"]


DELIVERIES = """
query($endpointId: ID) {
  webhookDeliveries(endpointId: $endpointId) {
    edges { node {
      id status attemptCount lastError lastStatusCode deliveredAt
      event { id type }
      attempts { statusCode error durationMs responseBody attemptedAt }
    } }
  }
}
"""


async def deliveries(api: Api, endpoint_id: str) -> list[dict[str, Any]]:
    data = await api.query(DELIVERIES, {"endpointId": endpoint_id})
    return [edge["node"] for edge in data["webhookDeliveries"]["edges"]]


def finished(rows: list[dict[str, Any]]) -> bool:
    """Every delivery is delivered or dead."""
    return bool(rows) and all(row["status"] in ("DELIVERED", "DEAD") for row in rows)


async def endpoint(api: Api, endpoint_id: str) -> dict[str, Any]:
    data = await api.query(
        f"query($id: ID!) {{ node(id: $id) {{ ... on WebhookEndpoint {{ {ENDPOINT_FIELDS} }} }} }}",
        {"id": endpoint_id},
    )
    node: dict[str, Any] = data["node"]
    return node


async def events_of_type(api: Api, event_type: str) -> list[dict[str, Any]]:
    data = await api.query(
        "query($types: [String!]) { events(types: $types, first: 100) "
        "{ edges { node { id type sequence subjectId timestamp data } } } }",
        {"types": [event_type]},
    )
    return [edge["node"] for edge in data["events"]["edges"]]


async def ok(api: Api, name: str, input_: dict[str, Any], selection: str) -> dict[str, Any]:
    """A mutation that must succeed; returns its payload."""
    payload = await api.mutate(name, input_, selection)
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload


def uuid_of(global_id: str) -> UUID:
    return UUID(from_base64(global_id)[1])
