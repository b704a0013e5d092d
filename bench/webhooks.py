"""Webhook delivery benchmark (not a test): throughput and commit-to-receipt latency.

    OKR_BENCH_SERVER_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \
        python bench/webhooks.py [--workers 1 2] [--events 2000]

Creates a scratch database, subscribes endpoints on a local HTTP receiver, runs
`python -m okr_service worker` processes, and commits one `team.created` event per transaction
(the real outbox path: event row, delivery rows and NOTIFY in one statement). Per worker
count it reports:
- latency: events committed one at a time (~100/s), commit -> receipt p50/p99;
- throughput: a burst from concurrent producers, events delivered per second from the
  first commit to the last receipt (plus latency p50/p99 under that load).
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from ipaddress import ip_network
from pathlib import Path
from uuid import uuid4

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from okr_service.auth.service import authenticate  # noqa: E402
from okr_service.kit.db import create_engine, create_sessionmaker, transaction  # noqa: E402
from okr_service.kit.migrate import upgrade_to_head  # noqa: E402
from okr_service.kit.settings import Settings, get_settings  # noqa: E402
from okr_service.organizations.service import create_organization  # noqa: E402
from okr_service.teams.service import create_team  # noqa: E402
from okr_service.webhooks.service import create_endpoint  # noqa: E402
from okr_service.webhooks.ssrf import AddressPolicy  # noqa: E402

LOCAL = {"OKR_WEBHOOK_ALLOWED_CIDRS": "127.0.0.1/32", "OKR_WEBHOOK_ALLOW_HTTP": "true"}
RECEIVER_REACHABLE = AddressPolicy(allowed_networks=(ip_network("127.0.0.1/32"),), allow_http=True)


class Receiver:
    """Answers 200 at once and notes when each event (by its team's ID) arrived."""

    def __init__(self) -> None:
        self.received: dict[str, float] = {}
        self.arrived = asyncio.Event()
        self.port = 0

    async def start(self) -> asyncio.Server:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        return server

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while request_line := await reader.readline():
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                key = json.loads(body)["data"]["object"]["id"]
                self.received.setdefault(key, time.time())
                self.arrived.set()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
                del request_line
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def wait_for(self, keys: list[str], within: float) -> None:
        deadline = time.monotonic() + within
        while not all(key in self.received for key in keys):
            if time.monotonic() > deadline:
                missing = sum(key not in self.received for key in keys)
                raise TimeoutError(f"{missing} of {len(keys)} events never arrived")
            self.arrived.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), 1)


@asynccontextmanager
async def scratch_database(server_url: str) -> AsyncIterator[str]:
    name = f"okr_bench_webhooks_{uuid4().hex[:8]}"
    admin_url = make_url(server_url).set(drivername="postgresql+asyncpg")
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        engine = create_async_engine(url)
        await upgrade_to_head(engine)
        await engine.dispose()
        yield url
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


async def subscribe(sessionmaker: async_sessionmaker[AsyncSession], port: int, endpoints: int) -> str:
    """An organization with `endpoints` endpoints on the receiver; returns its API key."""
    async with transaction(sessionmaker) as db:
        _, key = await create_organization(db, "Bench")
        actor = await authenticate(db, key)
        for index in range(endpoints):
            url = f"http://127.0.0.1:{port}/hooks/{index}"
            fields = {"url": url, "event_types": ["team.created"], "team_ids": []}
            await create_endpoint(db, actor, fields, policy=RECEIVER_REACHABLE)
    return key


async def commit_event(sessionmaker: async_sessionmaker[AsyncSession], key: str, committed: dict[str, float]) -> str:
    from okr_service.kit.ids import global_id

    async with transaction(sessionmaker) as db:
        actor = await authenticate(db, key)
        team = await create_team(db, actor, name="Bench team", parent_id=None)
    team_id = global_id("Team", team.id)
    committed[team_id] = time.time()
    return team_id


def start_workers(count: int, database_url: str, endpoint_concurrency: int) -> list[subprocess.Popen[bytes]]:
    env = (
        os.environ
        | LOCAL
        | {
            "OKR_DATABASE_URL": database_url,
            "OKR_WEBHOOK_ENDPOINT_CONCURRENCY": str(endpoint_concurrency),
            "OKR_LOG_LEVEL": "WARNING",
        }
    )
    command = [sys.executable, "-m", "okr_service", "worker"]
    return [subprocess.Popen(command, cwd=ROOT, env=env) for _ in range(count)]


def stop_workers(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=30)


def latencies_ms(committed: dict[str, float], received: dict[str, float]) -> tuple[float, float]:
    samples = sorted((received[key] - at) * 1000 for key, at in committed.items())
    p99 = samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))]
    return statistics.median(samples), p99


async def latency_phase(
    sessionmaker: async_sessionmaker[AsyncSession], key: str, receiver: Receiver, events: int
) -> tuple[float, float]:
    committed: dict[str, float] = {}
    for _ in range(events):
        await commit_event(sessionmaker, key, committed)
        await asyncio.sleep(0.01)
    await receiver.wait_for(list(committed), within=60)
    return latencies_ms(committed, receiver.received)


async def drain_phase(
    sessionmaker: async_sessionmaker[AsyncSession],
    key: str,
    receiver: Receiver,
    args: argparse.Namespace,
    start: Callable[[], list[subprocess.Popen[bytes]]],
) -> tuple[float, list[subprocess.Popen[bytes]]]:
    """A backlog committed while no worker runs, then drained: deliveries per second from
    the first receipt to the last (worker start-up excluded)."""
    committed: dict[str, float] = {}
    per_producer = args.events // args.producers

    async def produce() -> None:
        for _ in range(per_producer):
            await commit_event(sessionmaker, key, committed)

    await asyncio.gather(*(produce() for _ in range(args.producers)))
    processes = start()
    await receiver.wait_for(list(committed), within=600)
    times = sorted(receiver.received[key] for key in committed)
    return (len(times) - 1) / (times[-1] - times[0]), processes


async def run(args: argparse.Namespace) -> None:
    for name, value in LOCAL.items():
        os.environ[name] = value
    get_settings.cache_clear()
    receiver = Receiver()
    server = await receiver.start()
    async with scratch_database(args.server_url) as database_url:
        engine = create_engine(database_url, Settings(database_pool_size=args.producers + 2))
        sessionmaker = create_sessionmaker(engine)
        key = await subscribe(sessionmaker, receiver.port, args.endpoints)
        print(f"{args.endpoints} endpoint(s), {os.cpu_count()} CPUs, same host for everything")
        for workers in args.workers:

            def start(count: int = workers) -> list[subprocess.Popen[bytes]]:
                return start_workers(count, database_url, args.endpoint_concurrency)

            rate, processes = await drain_phase(sessionmaker, key, receiver, args, start)
            try:
                await latency_phase(sessionmaker, key, receiver, 20)  # warm-up
                p50, p99 = await latency_phase(sessionmaker, key, receiver, args.latency_events)
            finally:
                stop_workers(processes)
            print(
                f"workers={workers}: backlog of {args.events} drained at {rate:.0f} events/s | "
                f"commit -> receipt at ~100 events/s: p50={p50:.1f} ms p99={p99:.1f} ms"
            )
        await engine.dispose()
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument(
        "--server-url",
        default=os.environ.get("OKR_BENCH_SERVER_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--events", type=int, default=2000, help="burst size")
    parser.add_argument("--latency-events", type=int, default=200)
    parser.add_argument("--producers", type=int, default=8)
    parser.add_argument("--endpoints", type=int, default=1)
    parser.add_argument(
        "--endpoint-concurrency",
        type=int,
        default=32,
        help="OKR_WEBHOOK_ENDPOINT_CONCURRENCY for the workers",
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
