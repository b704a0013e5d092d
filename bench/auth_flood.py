"""Made-up API keys from one address against a tenant's normal traffic (not in CI).

    python -m bench.auth_flood --server-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres

Creates a throwaway database and serves this checkout with uvicorn (one process, default
settings: rate limits, key cache). The tenant sends one small query every 50 ms from
127.0.0.1, alone for half of `--seconds`, then while another process floods /graphql with
random `okr_...` tokens at `--rate` requests per second from 127.0.0.2. Prints the flood's
answers by status, the key lookups it cost (scans of `api_keys`, from PostgreSQL's
statistics, read once the server has stopped) and the tenant's median latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from uuid import uuid4

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from okr_service.kit.db import create_sessionmaker, transaction
from okr_service.kit.migrate import upgrade_to_head
from okr_service.organizations.service import create_organization

QUERY = {"query": "{ teams(first: 1) { edges { node { id } } } }"}
TENANT_INTERVAL = 0.05  # 20 requests per second: well under the default per-key limit
ATTACKER_ADDRESS = "127.0.0.2"  # Linux routes all of 127/8 to loopback
API_KEY_SCANS = text(
    "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables WHERE relname = 'api_keys'"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def tenant_latencies(url: str, key: str, seconds: float) -> list[float]:
    latencies = []
    until = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=url) as http:
        while time.monotonic() < until:
            started = time.perf_counter()
            response = await http.post("/graphql", json=QUERY, headers={"Authorization": f"Bearer {key}"})
            assert response.status_code == 200, response.text
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(max(0.0, TENANT_INTERVAL - latencies[-1] / 1000))
    return latencies


async def attack(url: str, rate: float, seconds: float) -> Counter[int]:
    """`rate` made-up keys per second for `seconds`, each sent on schedule (open loop)."""
    statuses: Counter[int] = Counter()
    transport = httpx.AsyncHTTPTransport(local_address=ATTACKER_ADDRESS)
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=url, transport=transport, limits=limits) as http:

        async def one(at: float) -> None:
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            token = "okr_" + secrets.token_urlsafe(32)
            response = await http.post("/graphql", json=QUERY, headers={"Authorization": f"Bearer {token}"})
            statuses[response.status_code] += 1

        start = time.monotonic()
        await asyncio.gather(*(one(start + i / rate) for i in range(int(rate * seconds))))
    return statuses


async def serve(database_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OKR_DATABASE_URL": database_url, "OKR_WEBHOOK_WORKER_IN_PROCESS": "0"}
    command = [sys.executable, "-m", "uvicorn", "okr_service.app:create_app", "--factory"]
    command += ["--port", str(port), "--log-level", "warning", "--timeout-graceful-shutdown", "5"]
    server = subprocess.Popen(command, env=env)  # noqa: ASYNC220 - once, before measuring
    async with httpx.AsyncClient() as http:
        for _ in range(200):
            try:
                if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    server.terminate()
    raise RuntimeError("the server did not start")


async def measure(database_url: str, seconds: float, rate: float) -> None:
    engine = create_async_engine(database_url)
    async with transaction(create_sessionmaker(engine)) as db:
        _, key = await create_organization(db, "Tenant")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = await serve(database_url, port)
    try:
        alone = await tenant_latencies(url, key, seconds / 2)
        async with engine.connect() as connection:
            scans_before = (await connection.execute(API_KEY_SCANS)).scalar_one()
        attacker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.auth_flood", "--attack", url,
            "--rate", str(rate), "--seconds", str(seconds),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        under_flood = await tenant_latencies(url, key, seconds)
        output, _ = await asyncio.wait_for(attacker.communicate(), timeout=seconds + 60)
        statuses = json.loads(output)
    finally:
        server.terminate()
        server.wait(timeout=30)  # its backends flush their statistics as they exit
    await asyncio.sleep(1.0)
    async with engine.connect() as connection:
        scans = (await connection.execute(API_KEY_SCANS)).scalar_one() - scans_before
    await engine.dispose()
    total = sum(statuses.values())
    print(f"flood: {total} made-up keys in {seconds:.0f} s from one address ({rate:.0f}/s)")
    print(f"  answers: {dict(sorted(statuses.items()))}")
    print(f"  key lookups (scans of api_keys during the flood): {scans}")
    print(
        f"tenant p50: {statistics.median(alone):.1f} ms alone, {statistics.median(under_flood):.1f} ms under the flood"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-url", help="a server to create the throwaway database on")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=330.0, help="made-up keys per second")
    parser.add_argument("--attack", metavar="URL", help=argparse.SUPPRESS)  # the flooding child
    args = parser.parse_args()
    if args.attack:
        print(json.dumps(await attack(args.attack, args.rate, args.seconds)))
        return
    admin_url = make_url(args.server_url).set(drivername="postgresql+asyncpg")
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"okr_auth_flood_{uuid4().hex[:8]}"
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        engine = create_async_engine(url)
        await upgrade_to_head(engine)
        await engine.dispose()
        await measure(url, args.seconds, args.rate)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
