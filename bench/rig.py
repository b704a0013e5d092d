"""The multi-replica rig: `python -m bench rig [--seconds 30]`.

Starts on this machine everything a scaled-out deployment has (README, "Scaling out"):

- a PostgreSQL primary and a streaming replica (`pg_basebackup -R`), temporary folders, free
  ports, and PgBouncer in transaction mode in front of the primary (tests/scale/servers.py);
- Redis: the local one at 6379 under a key prefix of this run, else a `redis-server` it
  starts;
- 3 API processes (`okr-service serve --no-migrate`, one port each), every one with the
  pooler URL, the direct URL, the read URL and the Redis URL, and no in-process worker;
- 2 webhook worker processes (`okr-service worker`);
- a webhook receiver (Starlette on uvicorn, in this process) that verifies every delivery
  with the `standardwebhooks` library, for 2 endpoints.

Then writers (check-ins, new teams) and readers (a page of objectives) go through the 3 API
processes round-robin for `--seconds`, and it checks:

1. no acknowledged write lost: every mutation answered without errors is on the primary;
2. read-your-writes: after each write, the writer reads it back through another API
   process, echoing the `Consistency-Token` it got: never missing;
3. every event delivered once per endpoint after deduplication by `webhook-id`, none missing
   after a bounded drain wait, every signature valid;
4. the rate limit held globally: the API processes restart with a low rate, clients hammer all
   three, and the requests accepted stay <= rate x time + burst (per-process buckets would
   allow 3x that).

Exit code 1 on any violation, 2 when a server cannot be started here.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis.asyncio as redis
import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.scale.servers import (  # noqa: E402
    Pair,
    PgBouncer,
    Unavailable,
    free_port,
    running_pgbouncer,
    streaming_pair,
)

API_PROCESSES = 3
WORKER_PROCESSES = 2
ENDPOINTS = ("alpha", "beta")
WRITERS = 4
READERS = 4
# PgBouncer's server connections for all processes; the processes' own pools (10 + 10 each)
# are client connections to it.
BOUNCER_POOL = 20
MAX_CONNECTIONS = 150  # each cluster: PgBouncer's pool, direct LISTENs, replica reads
DRAIN_SECONDS = 30.0
RATE = 20.0  # the rate phase: requests per second per key, and burst
BURST = 10
RATE_SECONDS = 4.0
RATE_CLIENTS = 12
CONSISTENCY = "Consistency-Token"

CREATE_TEAM = (
    "mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { id } userErrors { code message } } }"
)
CREATE_CYCLE = (
    "mutation($input: CreateCycleInput!) { createCycle(input: $input) { cycle { id } userErrors { code message } } }"
)
CREATE_OBJECTIVE = (
    "mutation($input: CreateObjectiveInput!) { createObjective(input: $input)"
    " { objective { id } userErrors { code message } } }"
)
CREATE_KEY_RESULT = (
    "mutation($input: CreateKeyResultInput!) { createKeyResult(input: $input)"
    " { keyResult { id } userErrors { code message } } }"
)
CREATE_API_KEY = (
    "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret userErrors { code message } } }"
)
CREATE_ENDPOINT = (
    "mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input)"
    " { webhookEndpoint { id } secret userErrors { code message } } }"
)
RECORD_CHECK_IN = (
    "mutation($input: RecordCheckInInput!) { recordCheckIn(input: $input)"
    " { checkIn { id } userErrors { code message } } }"
)
NODE = "query($id: ID!) { node(id: $id) { id } }"
PAGE = (
    "query($cycle: ID!) { objectives(filter: {cycleId: $cycle}, first: 25) { edges { node"
    " { id title progress keyResults { id currentValue latestCheckIn { id value } } } } } }"
)
PROBE = "{ __typename }"


class Violation(AssertionError):
    pass


def uuid_of(global_id: str) -> uuid.UUID:
    """The UUID inside a global ID (base64 of `Type:uuid`)."""
    return uuid.UUID(base64.b64decode(global_id).decode().partition(":")[2])


# --- processes ----------------------------------------------------------------------------


class Process:
    """A child process in its own session, its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], folder: Path) -> None:
        self.name = name
        self.log_path = folder / f"{name}.log"
        with self.log_path.open("wb") as log:
            self.popen = subprocess.Popen(
                argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-1500:]

    def terminate(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.terminate()
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()


def service_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "okr_service", *arguments]


def run_service(env: dict[str, str], *arguments: str) -> str:
    done = subprocess.run(service_command(*arguments), env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"okr-service {' '.join(arguments)} failed: {done.stderr[-2000:]}")
    return done.stdout


@dataclass
class Topology:
    pair: Pair
    bouncer: PgBouncer
    redis_url: str
    redis_prefix: str
    folder: Path
    receiver_port: int

    @property
    def direct_url(self) -> str:
        return self.pair.primary.url("okr")

    def environment(self, **extra: str) -> dict[str, str]:
        """What every okr-service process of the rig runs with."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("OKR_")}
        return env | {
            "OKR_DATABASE_URL": self.bouncer.url_for(self.direct_url),
            "OKR_DATABASE_POOLER": "transaction",
            "OKR_DATABASE_DIRECT_URL": self.direct_url,
            "OKR_DATABASE_READ_URL": self.pair.replica.url("okr"),
            "OKR_READ_REPLICA_POLL_INTERVAL_SECONDS": "0.05",
            "OKR_REDIS_URL": self.redis_url,
            "OKR_REDIS_KEY_PREFIX": self.redis_prefix,
            "OKR_WEBHOOK_WORKER_IN_PROCESS": "false",
            "OKR_WEBHOOK_ALLOWED_CIDRS": "127.0.0.1/32",
            "OKR_WEBHOOK_ALLOW_HTTP": "true",
            "OKR_WEBHOOK_POLL_INTERVAL_SECONDS": "0.5",
            "OKR_HEALTH_SWEEP_INTERVAL_SECONDS": "86400",
            "OKR_MAX_CONCURRENT_REQUESTS_PER_KEY": "0",
            "OKR_LOG_LEVEL": "WARNING",
            "OKR_DATA_DIR": str(self.folder / "data"),
            **extra,
        }


def launch_apis(topology: Topology, rate: float, burst: int) -> list[tuple[Process, int]]:
    """API processes with this rate limit, starting (see `until_all_ready`)."""
    env = topology.environment(OKR_RATE_LIMIT_PER_SECOND=str(rate), OKR_RATE_LIMIT_BURST=str(burst))
    started = []
    for index in range(API_PROCESSES):
        port = free_port()
        argv = service_command("serve", "--no-migrate", "--host", "127.0.0.1", "--port", str(port))
        started.append((Process(f"api-{index}-{port}", argv, env, topology.folder), port))
    return started


async def until_all_ready(apis: list[tuple[Process, int]]) -> None:
    async with httpx.AsyncClient() as client:
        for process, port in apis:
            await until_ready(client, process, port)


async def until_ready(client: httpx.AsyncClient, process: Process, port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited:\n{process.tail()}")
        with contextlib.suppress(httpx.TransportError):
            if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{process.name} not ready within 60 s:\n{process.tail()}")


@contextlib.asynccontextmanager
async def redis_server(folder: Path) -> AsyncIterator[str]:
    """The local Redis at 6379 if it answers, else one started here."""
    local = "redis://127.0.0.1:6379/0"
    client = redis.Redis.from_url(local, socket_connect_timeout=1)
    try:
        await client.ping()
        yield local
        return
    except redis.ConnectionError:
        pass
    finally:
        await client.aclose()
    binary = shutil.which("redis-server")
    if binary is None:
        raise Unavailable("no Redis at 6379 and no redis-server to start")
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = Process("redis", argv, dict(os.environ), folder)
    try:
        url = f"redis://127.0.0.1:{port}/0"
        for _ in range(100):
            client = redis.Redis.from_url(url)
            try:
                await client.ping()
                break
            except redis.ConnectionError:
                await asyncio.sleep(0.05)
            finally:
                await client.aclose()
        yield url
    finally:
        process.stop()


async def forget_keys(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


# --- the webhook receiver -----------------------------------------------------------------


@dataclass
class Receiver:
    secrets: dict[str, str] = field(default_factory=dict)
    received: dict[str, collections.Counter[str]] = field(
        default_factory=lambda: {name: collections.Counter() for name in ENDPOINTS}
    )
    bad_signatures: int = 0

    async def receive(self, request: Request) -> Response:
        name = request.path_params["name"]
        body = await request.body()
        if name not in self.secrets:
            return Response(status_code=404)
        try:
            Webhook(self.secrets[name]).verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.bad_signatures += 1
            return Response(status_code=400)
        self.received[name][request.headers["webhook-id"]] += 1
        return Response(status_code=204)


@contextlib.asynccontextmanager
async def receiving(receiver: Receiver, port: int) -> AsyncIterator[None]:
    app = Starlette(routes=[Route("/hooks/{name}", receiver.receive, methods=["POST"])])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        await task


# --- GraphQL through the API processes ----------------------------------------------------


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: httpx.Headers

    def payload(self, field_name: str) -> dict[str, Any]:
        """A mutation's payload; Violation unless answered without any error."""
        data = (self.body.get("data") or {}).get(field_name)
        if self.status != 200 or "errors" in self.body or not data or data.get("userErrors"):
            raise Violation(f"{field_name} answered {self.status}: {str(self.body)[:300]}")
        return data


class Client:
    """One key's requests to the API processes."""

    def __init__(self, http: httpx.AsyncClient, ports: list[int], key: str) -> None:
        self.http = http
        self.ports = ports
        self.key = key

    async def post(
        self, port: int, query: str, variables: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> Answer:
        response = await self.http.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.key}", **(headers or {})},
        )
        return Answer(response.status_code, response.json(), response.headers)

    async def mutate(self, field_name: str, query: str, fields: dict[str, Any]) -> dict[str, Any]:
        answer = await self.post(self.ports[0], query, {"input": fields})
        return answer.payload(field_name)


@dataclass
class Fixture:
    """What the phases work on: keys, a cycle, one key result per writer, the endpoints."""

    admin: str
    reader: str
    limited: str
    cycle: str
    key_results: list[str]
    endpoints: dict[str, uuid.UUID]
    endpoints_made: datetime


async def set_up(
    topology: Topology, http: httpx.AsyncClient, apis: list[tuple[Process, int]], receiver: Receiver
) -> Fixture:
    """An organization (by the CLI, while the API processes start), then through the API:
    the endpoints first (every later event is owed to both), keys, a cycle, key results."""
    made, _ = await asyncio.gather(
        asyncio.to_thread(run_service, topology.environment(), "create-org", "Rig"), until_all_ready(apis)
    )
    admin = Client(http, [port for _, port in apis], json.loads(made)["apiKey"])
    endpoints = {}
    for name in ENDPOINTS:
        url = f"http://127.0.0.1:{topology.receiver_port}/hooks/{name}"
        created = await admin.mutate("createWebhookEndpoint", CREATE_ENDPOINT, {"url": url})
        receiver.secrets[name] = created["secret"]
        endpoints[name] = uuid_of(created["webhookEndpoint"]["id"])
    endpoints_made = datetime.now(UTC)
    keys = []
    for name, scope in (("rig reader", "READ"), ("rig rate limited", "WRITE")):
        created = await admin.mutate("createApiKey", CREATE_API_KEY, {"name": name, "scopes": [scope]})
        keys.append(created["secret"])
    team = (await admin.mutate("createTeam", CREATE_TEAM, {"name": "Rig"}))["team"]["id"]
    today = datetime.now(UTC).date()
    cycle = (
        await admin.mutate(
            "createCycle",
            CREATE_CYCLE,
            {
                "name": "Rig quarter",
                "startsOn": str(today - timedelta(days=30)),
                "endsOn": str(today + timedelta(days=60)),
            },
        )
    )["cycle"]["id"]
    objective = (
        await admin.mutate(
            "createObjective", CREATE_OBJECTIVE, {"title": "Scale out calmly", "teamId": team, "cycleId": cycle}
        )
    )["objective"]["id"]
    key_results = []
    for index in range(WRITERS):
        fields = {"objectiveId": objective, "title": f"Raise throughput {index}", "startValue": 0, "targetValue": 1e6}
        key_results.append((await admin.mutate("createKeyResult", CREATE_KEY_RESULT, fields))["keyResult"]["id"])
    return Fixture(admin.key, keys[0], keys[1], cycle, key_results, endpoints, endpoints_made)


# --- phase 1: writers and readers ---------------------------------------------------------


@dataclass
class Tally:
    check_ins: set[uuid.UUID] = field(default_factory=set)
    teams: set[uuid.UUID] = field(default_factory=set)
    reads_back: int = 0
    reads: int = 0
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        if len(self.problems) < 20:
            self.problems.append(text)
        else:
            self.problems[-1] = f"... and more ({text})"


async def writer(client: Client, index: int, fixture: Fixture, deadline: float, tally: Tally) -> None:
    for n in itertools.count():
        if time.monotonic() >= deadline:
            return
        port = client.ports[(index + n) % len(client.ports)]
        other = client.ports[(index + n + 1) % len(client.ports)]
        try:
            if n % 4 == 3:
                answer = await client.post(port, CREATE_TEAM, {"input": {"name": f"Rig {index}.{n}"}})
                written = answer.payload("createTeam")["team"]["id"]
                tally.teams.add(uuid_of(written))
            else:
                fields = {"keyResultId": fixture.key_results[index], "value": n, "note": f"w{index} n{n}"}
                answer = await client.post(port, RECORD_CHECK_IN, {"input": fields})
                written = answer.payload("recordCheckIn")["checkIn"]["id"]
                tally.check_ins.add(uuid_of(written))
            token = answer.headers.get(CONSISTENCY)
            if token is None:
                tally.problem(f"a mutation through :{port} answered without {CONSISTENCY}")
                continue
            back = await client.post(other, NODE, {"id": written}, {CONSISTENCY: token})
            tally.reads_back += 1
            if back.status != 200 or (back.body.get("data") or {}).get("node") is None:
                tally.problem(f"stale read: {written} written through :{port}, not seen through :{other}: {back.body}")
        except Violation as refused:
            tally.problem(str(refused))
        except httpx.HTTPError as error:
            tally.problem(f"writer {index}: {error!r}")  # not acknowledged: not counted as written


async def reader(client: Client, index: int, fixture: Fixture, deadline: float, tally: Tally) -> None:
    for n in itertools.count():
        if time.monotonic() >= deadline:
            return
        port = client.ports[(index + n) % len(client.ports)]
        try:
            answer = await client.post(port, PAGE, {"cycle": fixture.cycle})
        except httpx.HTTPError as error:
            tally.problem(f"reader {index}: {error!r}")
            continue
        tally.reads += 1
        if answer.status != 200 or "errors" in answer.body:
            tally.problem(f"read through :{port} answered {answer.status}: {str(answer.body)[:200]}")


async def metric_totals(http: httpx.AsyncClient, ports: list[int], family: str) -> dict[str, float]:
    """A counter family of every API process, summed by its labels' values."""
    totals: collections.Counter[str] = collections.Counter()
    pattern = re.compile(rf"^{family}\{{([^}}]*)\}} (\S+)$", re.M)
    for port in ports:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
        for labels, value in pattern.findall(text):
            totals["/".join(re.findall(r'="([^"]*)"', labels))] += float(value)
    return dict(totals)


async def check_writes_kept(direct: asyncpg.Connection, tally: Tally) -> list[str]:
    found = []
    for table, written in (("check_ins", tally.check_ins), ("teams", tally.teams)):
        kept = {row["id"] for row in await direct.fetch(f"SELECT id FROM {table} WHERE id = ANY($1)", list(written))}
        lost = written - kept
        print(f"  acknowledged {table}: {len(written)}, on the primary: {len(kept)}, lost: {len(lost)}")
        if lost:
            found.append(f"{len(lost)} acknowledged {table} rows lost, e.g. {sorted(lost)[:3]}")
    return found


# --- deliveries ---------------------------------------------------------------------------


async def owed(direct: asyncpg.Connection, fixture: Fixture) -> tuple[dict[str, set[str]], list[str]]:
    """Per endpoint, the webhook-ids owed to it; problems if the fan-out missed an event."""
    problems = []
    owed_ids: dict[str, set[str]] = {}
    subscribers = {
        row["id"]
        for row in await direct.fetch(
            "SELECT id FROM events WHERE audience = 'subscribers' AND occurred_at >= $1", fixture.endpoints_made
        )
    }
    for name, endpoint in fixture.endpoints.items():
        rows = await direct.fetch("SELECT event_id FROM webhook_deliveries WHERE endpoint_id = $1", endpoint)
        events = {row["event_id"] for row in rows}
        if missed := subscribers - events:
            problems.append(f"{len(missed)} events after the endpoints existed have no delivery to {name}")
        owed_ids[name] = {base64.b64encode(f"Event:{event}".encode()).decode() for event in events}
    return owed_ids, problems


async def check_deliveries(direct: asyncpg.Connection, fixture: Fixture, receiver: Receiver) -> list[str]:
    started = time.monotonic()
    owed_ids, problems = await owed(direct, fixture)
    while time.monotonic() - started < DRAIN_SECONDS:
        if all(owed_ids[name] <= set(receiver.received[name]) for name in ENDPOINTS):
            break
        await asyncio.sleep(0.25)
    print(f"  drained in {time.monotonic() - started:.1f} s (at most {DRAIN_SECONDS:.0f} s)")
    for name in ENDPOINTS:
        got = receiver.received[name]
        missing = owed_ids[name] - set(got)
        unexpected = set(got) - owed_ids[name]
        repeats = sum(count - 1 for count in got.values())
        print(
            f"  endpoint {name}: owed {len(owed_ids[name])}, received {sum(got.values())} "
            f"({len(got)} distinct webhook-ids, {repeats} repeats), missing {len(missing)}, "
            f"unexpected {len(unexpected)}"
        )
        if missing:
            problems.append(f"{len(missing)} events never reached {name} within {DRAIN_SECONDS:.0f} s")
        if unexpected:
            problems.append(f"{len(unexpected)} deliveries to {name} of events not owed to it")
    print(f"  signatures refused: {receiver.bad_signatures}")
    if receiver.bad_signatures:
        problems.append(f"{receiver.bad_signatures} deliveries failed standardwebhooks verification")
    return problems


# --- phase 2: the rate limit across processes ---------------------------------------------


async def hammer(client: Client, seconds: float) -> tuple[collections.Counter[str], float]:
    """Requests from RATE_CLIENTS callers sharing one key, round-robin over the processes,
    for `seconds`: answers by port and outcome, and the time from first send to last answer."""
    outcomes: collections.Counter[str] = collections.Counter()
    first_sent = time.monotonic()
    last_answer = first_sent
    deadline = first_sent + seconds

    async def one_caller(index: int) -> None:
        nonlocal last_answer
        for n in itertools.count():
            if time.monotonic() >= deadline:
                return
            port = client.ports[(index + n) % len(client.ports)]
            answer = await client.post(port, PROBE)
            last_answer = max(last_answer, time.monotonic())
            code = (answer.body.get("errors") or [{}])[0].get("extensions", {}).get("code")
            outcomes[f"{port} {answer.status} {code or ''}".strip()] += 1

    await asyncio.gather(*(one_caller(index) for index in range(RATE_CLIENTS)))
    return outcomes, last_answer - first_sent


async def check_rate_limit(client: Client) -> list[str]:
    # A key's first request to a process is counted in its address's bucket, until that
    # process has seen the key work (ratelimit.py): one request each, then an empty bucket.
    for port in client.ports:
        await client.post(port, PROBE)
    await asyncio.sleep(BURST / RATE)
    outcomes, elapsed = await hammer(client, RATE_SECONDS)
    store_errors = await metric_totals(client.http, client.ports, "okr_rate_limit_store_errors_total")
    accepted = sum(count for outcome, count in outcomes.items() if outcome.split()[1] == "200")
    limited = sum(count for outcome, count in outcomes.items() if "RATE_LIMITED" in outcome)
    other = sum(outcomes.values()) - accepted - limited
    bound = RATE * elapsed + BURST
    per_port = {port: sum(c for o, c in outcomes.items() if o.startswith(f"{port} 200")) for port in client.ports}
    print(
        f"  rate {RATE:.0f}/s, burst {BURST}, {elapsed:.2f} s: accepted {accepted} (per process {per_port}), "
        f"429 RATE_LIMITED {limited}, other {other}; bound rate x time + burst = {bound:.1f} "
        f"(per-process buckets would allow {API_PROCESSES * bound:.1f}); Redis failures: {store_errors or 0}"
    )
    problems = []
    if accepted > bound:
        problems.append(f"rate limit not global: {accepted} accepted > {bound:.1f}")
    if limited == 0:
        problems.append("no request was rate limited: the phase proved nothing")
    if other:
        problems.append(f"{other} answers neither 200 nor 429 RATE_LIMITED: {dict(outcomes)}")
    if not all(per_port.values()):
        problems.append(f"a process accepted nothing: {per_port}")
    return problems


# --- the run ------------------------------------------------------------------------------


@contextlib.contextmanager
def stopping(processes: list[Process]) -> Iterator[list[Process]]:
    try:
        yield processes
    finally:
        for process in processes:  # all told at once: they shut down side by side
            process.terminate()
        for process in processes:
            process.stop()


async def rig(seconds: float) -> list[str]:
    folder = Path(tempfile.mkdtemp(prefix="okr-rig-"))
    os.chmod(folder, 0o755)  # the clusters' user reaches its folder inside
    for part in ("data", "clusters"):
        (folder / part).mkdir()
    problems: list[str] = []
    begun = time.monotonic()
    with (
        streaming_pair(folder / "clusters", MAX_CONNECTIONS) as pair,
        running_pgbouncer(pair.primary.url("okr"), folder, pool_size=BOUNCER_POOL, max_client_conn=1000) as bouncer,
        stopping([]) as processes,
    ):
        async with redis_server(folder) as redis_url:
            topology = Topology(pair, bouncer, redis_url, f"okr:rig:{uuid.uuid4().hex[:12]}:", folder, free_port())
            direct = await asyncpg.connect(topology.direct_url.replace("+asyncpg", "").replace("/okr", "/postgres"))
            await direct.execute("CREATE DATABASE okr")
            await direct.close()
            run_service(topology.environment(), "migrate")
            print(
                f"[rig] primary :{pair.primary.port}, replica :{pair.replica.port}, PgBouncer :{bouncer.port} "
                f"(pool {BOUNCER_POOL}), Redis {redis_url} prefix {topology.redis_prefix}, "
                f"receiver :{topology.receiver_port}; set up in {time.monotonic() - begun:.1f} s",
                flush=True,
            )
            receiver = Receiver()
            try:
                async with receiving(receiver, topology.receiver_port):
                    problems += await phases(topology, receiver, processes, seconds)
            finally:
                await forget_keys(redis_url, topology.redis_prefix)
    print(f"[rig] done in {time.monotonic() - begun:.1f} s", flush=True)
    if problems:
        print(f"[rig] the processes' logs are kept in {folder}", flush=True)
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return problems


async def phases(topology: Topology, receiver: Receiver, processes: list[Process], seconds: float) -> list[str]:
    # Phase 1's limit is far above what the load reaches: the buckets still live in Redis.
    apis = launch_apis(topology, 10_000, 10_000)
    processes += [process for process, _ in apis]
    for index in range(WORKER_PROCESSES):
        processes.append(Process(f"worker-{index}", service_command("worker"), topology.environment(), topology.folder))
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        fixture = await set_up(topology, http, apis, receiver)
        # The rate phase's processes start meanwhile (the limit is a process's setting).
        limited_apis = launch_apis(topology, RATE, BURST)
        processes += [process for process, _ in limited_apis]
        problems = await load_and_check(topology, http, [port for _, port in apis], fixture, receiver, seconds)
        print(f"[rig] rate limit: {API_PROCESSES} other API processes with {RATE:.0f}/s, burst {BURST}", flush=True)
        for process, _ in apis:
            process.terminate()
        await until_all_ready(limited_apis)
        problems += await check_rate_limit(Client(http, [port for _, port in limited_apis], fixture.limited))
    return problems


async def load_and_check(
    topology: Topology, http: httpx.AsyncClient, ports: list[int], fixture: Fixture, receiver: Receiver, seconds: float
) -> list[str]:
    """Writers and readers for `seconds`, then the writes and the deliveries checked."""
    print(
        f"[rig] {API_PROCESSES} API processes {ports}, {WORKER_PROCESSES} workers; "
        f"{WRITERS} writers and {READERS} readers for {seconds:.0f} s",
        flush=True,
    )
    tally = Tally()
    deadline = time.monotonic() + seconds
    admin, reads = Client(http, ports, fixture.admin), Client(http, ports, fixture.reader)
    await asyncio.gather(
        *(writer(admin, index, fixture, deadline, tally) for index in range(WRITERS)),
        *(reader(reads, index, fixture, deadline, tally) for index in range(READERS)),
    )
    routes = await metric_totals(http, ports, "okr_database_reads_total")
    print(
        f"[rig] writes acknowledged: {len(tally.check_ins)} check-ins, {len(tally.teams)} teams; "
        f"read back through another process: {tally.reads_back}; page reads: {tally.reads}",
        flush=True,
    )
    print(f"  reads by reason/database, all processes: {routes}")
    for problem in tally.problems:
        print(f"  PROBLEM {problem}")
    direct = await asyncpg.connect(topology.direct_url.replace("+asyncpg", ""))
    try:
        problems = tally.problems + await check_writes_kept(direct, tally)
        print("[rig] webhooks", flush=True)
        return problems + await check_deliveries(direct, fixture, receiver)
    finally:
        await direct.close()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench rig", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="of concurrent writers and readers")
    args = parser.parse_args(argv)
    try:
        problems = asyncio.run(rig(args.seconds))
    except Unavailable as missing:
        print(f"[rig] cannot run here: {missing}", file=sys.stderr)
        sys.exit(2)
    if problems:
        print(f"[rig] FAILED: {len(problems)} violations", flush=True)
        for problem in problems:
            print(f"  - {problem}")
        sys.exit(1)
    print(
        "[rig] OK: no acknowledged write lost, read-your-writes held, every event delivered once per "
        "endpoint, the rate limit held across processes",
        flush=True,
    )
