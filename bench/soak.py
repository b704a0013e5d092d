"""Soak test (not in CI): N minutes of mixed reads and writes against a running instance.

    OKR_RATE_LIMIT_PER_SECOND=0 OKR_DATABASE_URL=postgresql+asyncpg://... \
        uvicorn okr_service.app:create_app --factory --port 8000 &
    python -m bench.soak --url http://127.0.0.1:8000 --minutes 30 \
        --database-url postgresql+asyncpg://...      # creates a fresh organization
    python -m bench.soak --url ... --key okr_...    # or uses an existing key

Every `--interval` seconds it prints one line: requests, errors, p50/p99 latency and the
server's RSS (the process listening on the URL's port, or `--pid`); at the end a summary
with the RSS growth from the first to the last quarter of the run (a leak shows as steady
growth; a flat line is the goal). Writes are ~30% of requests: objectives, key results,
check-ins, team renames; reads: pages, nested pages, node lookups, the viewer. Errors are
HTTP statuses other than 200 and GraphQL errors; 429 answers are counted apart (start the
instance with OKR_RATE_LIMIT_PER_SECOND=0, or fewer workers, to soak without them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse
from uuid import uuid4

import httpx
import psutil


@dataclass
class Window:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    limited: int = 0
    writes: int = 0
    error_samples: list[str] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def create_key(database_url: str) -> str:
    from okr_service.kit.db import create_engine, create_sessionmaker, transaction
    from okr_service.kit.settings import Settings
    from okr_service.organizations.service import create_organization

    engine = create_engine(database_url, Settings(database_url=None))
    try:
        async with transaction(create_sessionmaker(engine)) as db:
            _, secret = await create_organization(db, f"Soak {uuid4().hex[:8]}")
    finally:
        await engine.dispose()
    return secret


def server_process(url: str, pid: int | None) -> psutil.Process | None:
    if pid is not None:
        return psutil.Process(pid)
    port = urlparse(url).port or 80
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return None
    for connection in connections:
        listening = connection.status == "LISTEN" and connection.pid
        if listening and connection.laddr and connection.laddr.port == port:
            return psutil.Process(connection.pid)
    return None


def rss_mb(process: psutil.Process | None) -> float:
    if process is None:
        return float("nan")
    try:
        total = process.memory_info().rss
        for child in process.children(recursive=True):  # uvicorn --workers N
            total += child.memory_info().rss
    except psutil.Error:
        return float("nan")
    return total / 1e6


class Soak:
    def __init__(self, client: httpx.AsyncClient, key: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {key}"}
        self.window = Window()
        self.team = ""
        self.cycle = ""
        self.objectives: list[str] = []
        self.key_results: list[str] = []

    async def call(self, query: str, variables: dict[str, Any], write: bool = False) -> Any:
        started = time.perf_counter()
        try:
            response = await self.client.post(
                "/graphql", json={"query": query, "variables": variables}, headers=self.headers
            )
        except httpx.HTTPError as error:
            self.window.errors += 1
            self.window.error_samples.append(f"{type(error).__name__}: {error}")
            return None
        self.window.latencies.append(time.perf_counter() - started)
        self.window.writes += write
        if response.status_code == 429:
            self.window.limited += 1
            return None
        body = response.json() if response.content else {}
        if response.status_code != 200 or body.get("errors"):
            self.window.errors += 1
            self.window.error_samples.append(f"{response.status_code} {response.text[:200]}")
            return None
        return body["data"]

    async def mutate(self, name: str, input_: dict[str, Any], selection: str) -> Any:
        type_name = name[0].upper() + name[1:] + "Input"
        data = await self.call(
            f"mutation($input: {type_name}!) {{ {name}(input: $input) "
            f"{{ {selection} userErrors {{ code message }} }} }}",
            {"input": input_},
            write=True,
        )
        if data is None:
            return None
        payload = data[name]
        if payload["userErrors"]:
            self.window.errors += 1
            self.window.error_samples.append(f"{name}: {payload['userErrors']}")
        return payload

    async def setup(self) -> None:
        team = await self.mutate("createTeam", {"name": "Soak"}, "team { id }")
        cycle = await self.mutate(
            "createCycle",
            {"name": "Soak", "startsOn": "2026-01-01", "endsOn": "2026-12-31"},
            "cycle { id }",
        )
        if not team or not cycle:
            sys.exit(f"setup failed: {self.window.error_samples}")
        self.team, self.cycle = team["team"]["id"], cycle["cycle"]["id"]
        for _ in range(5):
            await self.new_objective()

    async def new_objective(self) -> None:
        payload = await self.mutate(
            "createObjective",
            {"title": f"Objective {uuid4().hex[:6]}", "teamId": self.team, "cycleId": self.cycle},
            "objective { id }",
        )
        if payload and payload["objective"]:
            objective = payload["objective"]["id"]
            self.objectives.append(objective)
            kr = await self.mutate(
                "createKeyResult",
                {"objectiveId": objective, "title": "Raise it", "targetValue": 100},
                "keyResult { id }",
            )
            if kr and kr["keyResult"]:
                self.key_results.append(kr["keyResult"]["id"])

    async def step(self, rng: random.Random) -> None:
        roll = rng.random()
        if roll < 0.15 and self.key_results:
            await self.mutate(
                "recordCheckIn",
                {"keyResultId": rng.choice(self.key_results), "value": rng.uniform(0, 100)},
                "checkIn { id }",
            )
        elif roll < 0.22:
            await self.new_objective()
        elif roll < 0.30:
            await self.mutate("updateTeam", {"id": self.team, "name": f"Soak {rng.randint(0, 9)}"}, "team { id }")
        elif roll < 0.55:
            await self.call(
                "query($c: ID!) { objectives(filter: {cycleId: $c}, first: 50) { edges { node "
                "{ id title progress keyResults { id title latestCheckIn { value } } } } } }",
                {"c": self.cycle},
            )
        elif roll < 0.80 and self.objectives:
            await self.call(
                "query($id: ID!) { node(id: $id) { id ... on Objective { title team { name } "
                "keyResults { checkIns(first: 5) { edges { node { value checkedAt } } } } } } }",
                {"id": rng.choice(self.objectives)},
            )
        elif roll < 0.90:
            await self.call("{ teams(first: 25) { edges { node { id name } } } }", {})
        else:
            await self.call("{ viewer { organization { id name } } }", {})


def report(soak: Soak, process: psutil.Process | None, started: float, window_started: float) -> dict[str, Any]:
    """Close the current window: print its line and return it."""
    window, soak.window = soak.window, Window()
    now = time.monotonic()
    row = {
        "t": round(now - started, 1),
        "requests": len(window.latencies),
        "rps": len(window.latencies) / max(now - window_started, 1e-9),
        "errors": window.errors,
        "rate_limited": window.limited,
        "writes": window.writes,
        "p50_ms": percentile(window.latencies, 0.50) * 1000,
        "p99_ms": percentile(window.latencies, 0.99) * 1000,
        "rss_mb": rss_mb(process),
        "error_samples": window.error_samples[:3],
    }
    print(
        f"{row['t']:>7.0f} {row['requests']:>9} {row['rps']:>7.1f} {row['errors']:>7} "
        f"{row['rate_limited']:>5} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} "
        f"{row['rss_mb']:>8.1f}"
    )
    for sample in window.error_samples[:3]:
        print(f"        error: {sample}")
    return row


async def worker(soak: Soak, seed: int, deadline: float) -> None:
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        await soak.step(rng)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--key", help="an API key; else --database-url makes an organization")
    parser.add_argument("--database-url", help="SQLAlchemy URL of the instance's database")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=8, help="concurrent clients")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds per report line")
    parser.add_argument("--pid", type=int, help="server process (default: listening on port)")
    parser.add_argument("--json", help="write every window and the summary to this file")
    args = parser.parse_args()
    if args.key is None and args.database_url is None:
        parser.error("give --key or --database-url")
    key = args.key or await create_key(args.database_url)
    process = server_process(args.url, args.pid)
    limits = httpx.Limits(max_connections=args.workers, max_keepalive_connections=args.workers)
    async with httpx.AsyncClient(base_url=args.url, timeout=30.0, limits=limits) as client:
        soak = Soak(client, key)
        await soak.setup()
        soak.window = Window()
        started = time.monotonic()
        deadline = started + args.minutes * 60
        tasks = [asyncio.create_task(worker(soak, seed, deadline)) for seed in range(args.workers)]
        rows: list[dict[str, Any]] = []
        print(
            f"{'t (s)':>7} {'requests':>9} {'rps':>7} {'errors':>7} {'429':>5} "
            f"{'p50 ms':>8} {'p99 ms':>8} {'RSS MB':>8}"
        )
        window_started = started
        while (remaining := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(args.interval, remaining))
            if time.monotonic() >= deadline:
                await asyncio.gather(*tasks)  # the last window takes the stragglers
            rows.append(report(soak, process, started, window_started))
            window_started = time.monotonic()
        await asyncio.gather(*tasks)
    quarter = max(1, len(rows) // 4)
    rss = [row["rss_mb"] for row in rows]
    summary = {
        "minutes": args.minutes,
        "requests": sum(row["requests"] for row in rows),
        "errors": sum(row["errors"] for row in rows),
        "rate_limited": sum(row["rate_limited"] for row in rows),
        "p99_ms_worst_window": max((row["p99_ms"] for row in rows), default=float("nan")),
        "rss_mb_first_quarter": statistics.fmean(rss[:quarter]) if rss else float("nan"),
        "rss_mb_last_quarter": statistics.fmean(rss[-quarter:]) if rss else float("nan"),
    }
    summary["rss_growth_mb"] = summary["rss_mb_last_quarter"] - summary["rss_mb_first_quarter"]
    print(json.dumps(summary, indent=2))
    if args.json:
        write_json(args.json, {"windows": rows, "summary": summary})


def write_json(path: str, data: Any) -> None:
    with open(path, "w") as out:
        json.dump(data, out, indent=2)


if __name__ == "__main__":
    asyncio.run(main())
