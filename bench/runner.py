"""Runs every target against the same data, one after another, and writes the report."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import psutil

from bench import generate as gen
from bench import workloads
from bench.loadgen import build_request, is_error, read_response
from bench.pgproxy import PgProxy

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
POSTGRAPHILE_DIR = BENCH / ".postgraphile"
POSTGRAPHILE_CLI = POSTGRAPHILE_DIR / "node_modules" / "postgraphile" / "cli.js"
PG_PORT = int(os.environ.get("BENCH_PG_PORT", "5432"))
PROXY_PORT = 8799

# Seconds of measurement and of warm-up per cell.
TIMING = {"small": (1.0, 0.5), "mid": (4.0, 1.0), "large": (6.0, 2.0), "xl": (8.0, 2.0)}


@dataclass
class Target:
    name: str
    kind: str  # svc | floor | pg
    port: int
    workers: int = 1

    def command(self, database: str, db_port: int) -> tuple[list[str], dict[str, str]]:
        env = dict(os.environ)
        if self.kind == "svc":
            env["OKR_DATABASE_URL"] = f"postgresql+asyncpg://postgres@127.0.0.1:{db_port}/{database}"
            env["OKR_LOG_LEVEL"] = "WARNING"  # no access log lines
            env["OKR_RATE_LIMIT_PER_SECOND"] = "0"  # the load generator is one key, far above 50/s
            env["OKR_MAX_CONCURRENT_REQUESTS_PER_KEY"] = "0"  # and keeps up to 32 in flight
            # The bench measures requests: no health sweep (its first run announces every
            # health of the generated data) may run beside them.
            env["OKR_HEALTH_SWEEP_INTERVAL_SECONDS"] = "86400"
            argv = [
                sys.executable,
                "-m",
                "okr_service",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ]
        elif self.kind == "floor":
            env["BENCH_FLOOR_DSN"] = f"postgresql://postgres@127.0.0.1:{db_port}/{database}"
            argv = [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.floor:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--no-access-log",
                "--log-level",
                "warning",
                "--workers",
                str(self.workers),
            ]
        else:
            env["NODE_ENV"] = "production"
            argv = [
                "node",
                str(POSTGRAPHILE_CLI),
                "-c",
                f"postgres://postgres@127.0.0.1:{db_port}/{database}",
                "-s",
                "public",
                "-n",
                "127.0.0.1",
                "-p",
                str(self.port),
                "--disable-query-log",
            ]
        return argv, env

    def headers(self, api_key: str) -> dict[str, str]:
        return {} if self.kind == "pg" else {"Authorization": f"Bearer {api_key}"}

    def bodies(self, workload: workloads.Workload) -> list[bytes] | None:
        if self.kind == "floor" and (workload.key.startswith("W3") or workload.svc_only):
            return None
        key = "pg" if self.kind == "pg" else "svc"
        return workload.bodies.get(key)


TARGETS = [
    Target("okr-service 1w", "svc", 8701, 1),
    Target("okr-service 2w", "svc", 8702, 2),
    Target("floor", "floor", 8703, 1),
    Target("postgraphile", "pg", 8704, 1),
]


class Server:
    """A target's process tree; its worker processes for RSS sampling."""

    def __init__(self, target: Target, database: str, db_port: int) -> None:
        self.target = target
        argv, env = target.command(database, db_port)
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{target.kind}-", suffix=".log", delete=False)
        cwd = gen.SERVICE_DIR if target.kind == "svc" else ROOT
        self.proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    async def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        probe = workloads.body("Probe", "{ __typename }", {})
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.target.name} exited: {self.tail()}")
            try:
                status, _ = await request_once(
                    "127.0.0.1",
                    self.target.port,
                    "/graphql",
                    probe,
                    {"Authorization": "Bearer none"},
                )
                if status in (200, 400, 401):
                    if self.target.workers > 1:
                        await asyncio.sleep(1.5)  # let every worker finish its start-up
                    return
            except OSError:
                pass
            await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.target.name} did not start: {self.tail()}")

    def tail(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-2000:]

    def workers(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.proc.pid)
            children = root.children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        procs = [p for p in children if "resource_tracker" not in " ".join(p.cmdline())]
        if self.target.workers > 1:
            return [p for p in procs if "spawn_main" in " ".join(p.cmdline())] or procs
        return [root, *procs]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
        os.unlink(self.log.name)


class RssSampler:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        workers = self.server.workers()
        while not self._stop.is_set():
            for p in workers:
                try:
                    rss = p.memory_info().rss
                except psutil.Error:
                    continue
                self.peaks[p.pid] = max(self.peaks.get(p.pid, 0), rss)
            self._stop.wait(0.05)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


async def request_once(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    spec = {"host": host, "port": port, "path": path, "headers": headers}
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(build_request(spec, body))
        return await read_response(reader)
    finally:
        writer.close()


async def run_cell(
    target: Target,
    bodies: list[bytes],
    headers: dict[str, str],
    concurrency: int,
    duration: float,
    warmup: float,
    write: bool,
    client: str = "raw",
) -> dict[str, Any]:
    spec = {
        "host": "127.0.0.1",
        "port": target.port,
        "path": "/graphql",
        "headers": headers,
        "bodies": [b.decode() for b in bodies],
        "concurrency": concurrency,
        "duration": duration,
        "warmup": warmup,
        "write": write,
        "client": client,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(spec, handle)
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.loadgen",
            handle.name,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
    finally:
        os.unlink(handle.name)
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed: {err.decode()[-2000:]}")
    return json.loads(out.decode().strip().splitlines()[-1])


async def queries_by_path(port: int) -> dict[str, float]:
    """okr-service's count of queries per read path (`okr_graphql_queries_total`)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        text = (await reader.read()).decode(errors="replace")
    finally:
        writer.close()
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith('okr_graphql_queries_total{path="'):
            labels, _, value = line.rpartition(" ")
            counts[labels.split('"')[1]] = counts.get(labels.split('"')[1], 0.0) + float(value)
    return counts


def served_by(before: dict[str, float], after: dict[str, float]) -> str:
    """Which read path answered a cell's queries: `compiled`, `resolvers`, or the share."""
    done = {path: after.get(path, 0.0) - before.get(path, 0.0) for path in after}
    total = sum(done.values())
    if not total:
        return "-"
    compiled = done.get("compiled", 0.0) / total
    return "compiled" if compiled == 1 else "resolvers" if compiled == 0 else f"{compiled:.0%} compiled"


def count_rows(payload: bytes) -> dict[str, int]:
    """Objectives, key results, latest check-ins, initiative links in a W1 answer."""
    data = orjson.loads(payload).get("data") or {}
    counts = {
        "objectives": 0,
        "keyResults": 0,
        "latestCheckIns": 0,
        "initiativeLinks": 0,
        "alignment": 0,
    }

    def objective_nodes(value: Any) -> list[Any]:
        if isinstance(value, dict) and "edges" in value:
            return [e["node"] for e in value["edges"]]
        if isinstance(value, dict) and "nodes" in value:
            return value["nodes"]
        return []

    def nodes(value: Any) -> list[Any]:
        return value["nodes"] if isinstance(value, dict) else (value or [])

    for value in data.values():
        for o in objective_nodes(value):
            counts["objectives"] += 1
            counts["alignment"] += len(nodes(o.get("contributesTo")))
            for k in nodes(o.get("keyResults")):
                counts["keyResults"] += 1
                latest = k.get("latestCheckIn")
                counts["latestCheckIns"] += (
                    len(latest["nodes"]) if isinstance(latest, dict) and "nodes" in latest else int(latest is not None)
                )
                counts["initiativeLinks"] += len(nodes(k.get("initiativeLinks")))
    return counts


async def pg_node_alias(port: int) -> str:
    _, payload = await request_once(
        "127.0.0.1",
        port,
        "/graphql",
        workloads.body(None, "{ allObjectives(first: 1) { nodes { nodeId } } }", {}),
        {},  # type: ignore[arg-type]
    )
    node_id = orjson.loads(payload)["data"]["allObjectives"]["nodes"][0]["nodeId"]
    return orjson.loads(base64.b64decode(node_id))[0]


async def clean_writes(dsn: str) -> None:
    """Undo W2's growth so the next target reads the same data."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("DELETE FROM check_ins WHERE author IS DISTINCT FROM 'bench'")
        await connection.execute("DELETE FROM events")
        await connection.execute("VACUUM (ANALYZE) check_ins, events, key_results")
    finally:
        await connection.close()


async def count_statements(
    target: Target,
    meta: dict[str, Any],
    loads: list[workloads.Workload],
    proxy: PgProxy,
    repeats: int = 10,
) -> dict[str, Any]:
    """Untyped pass through the counting proxy: statements and round trips per request."""
    server = Server(target, meta["database"], PROXY_PORT)
    found: dict[str, Any] = {}
    try:
        await server.wait_ready()
        headers = target.headers(meta["api_key"])
        for w in loads:
            bodies = target.bodies(w)
            if not bodies or (w.write and target.kind == "pg"):
                continue
            for b in bodies[:3]:
                await request_once("127.0.0.1", target.port, "/graphql", b, headers)
            proxy.counts.reset()
            for i in range(repeats):
                await request_once("127.0.0.1", target.port, "/graphql", bodies[(i + 3) % len(bodies)], headers)
            await asyncio.sleep(0.05)
            c = proxy.counts
            found[w.key] = {
                "statements_per_request": c.statements / repeats,
                "round_trips_per_request": c.round_trips / repeats,
                "top": [{"sql": s, "per_request": n / repeats} for s, n in c.by_text.most_common(12)],
            }
    finally:
        server.stop()
    return found


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:.{digits}f}"


def ratios(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    index = {(c["target"], c["workload"], c["concurrency"]): c for c in cells}
    out = []
    for c in cells:
        if not c["target"].startswith("okr-service"):
            continue
        row = {"target": c["target"], "workload": c["workload"], "concurrency": c["concurrency"]}
        for other, label in (("floor", "floor"), ("postgraphile", "pg")):
            o = index.get((other, c["workload"], c["concurrency"]))
            if o and o["p50_ms"] and o["rps"]:
                row[f"p50_vs_{label}"] = c["p50_ms"] / o["p50_ms"]
                row[f"p99_vs_{label}"] = c["p99_ms"] / o["p99_ms"]
                row[f"rps_vs_{label}"] = c["rps"] / o["rps"]
        out.append(row)
    return out


def print_table(result: dict[str, Any]) -> str:
    lines = []
    head = (
        f"{'workload':<12} {'c':>3} {'target':<15} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'err':>4} "
        f"{'KB/resp':>8} {'RSS MB/worker':>14}  read path"
    )
    lines += [
        f"== okr-service bench, size {result['size']} ({result['timestamp']})",
        head,
        "-" * len(head),
    ]
    for c in result["cells"]:
        rss = "/".join(f"{r:.0f}" for r in c["peak_rss_mb_per_worker"])
        lines.append(
            f"{c['workload']:<12} {c['concurrency']:>3} {c['target']:<15} {fmt(c['rps'], 0):>8} "
            f"{fmt(c['p50_ms'], 2):>8} {fmt(c['p99_ms'], 2):>8} {c['errors']:>4} "
            f"{c['bytes_per_response'] / 1024:>8.1f} {rss:>14}  {c.get('read_path', '')}"
        )
    lines += ["", "Ratios (okr-service / other; latency >1 = slower, throughput <1 = slower)"]
    head2 = f"{'workload':<12} {'c':>3} {'target':<15} {'p50/floor':>9} {'rps/floor':>9} {'p50/PG':>8} {'rps/PG':>8}"
    lines += [head2, "-" * len(head2)]
    for r in result["ratios"]:
        lines.append(
            f"{r['workload']:<12} {r['concurrency']:>3} {r['target']:<15} {fmt(r.get('p50_vs_floor'), 2):>9} "
            f"{fmt(r.get('rps_vs_floor'), 2):>9} {fmt(r.get('p50_vs_pg'), 2):>8} {fmt(r.get('rps_vs_pg'), 2):>8}"
        )
    lines += ["", "SQL statements per request (round trips) via the counting proxy"]
    for target, per in result["sql"].items():
        cells = ", ".join(
            f"{w}: {v['statements_per_request']:.1f} ({v['round_trips_per_request']:.1f})" for w, v in per.items()
        )
        lines.append(f"  {target:<15} {cells}")
    lines += ["", "W1 answers (rows per response): " + json.dumps(result["w1_rows"])]
    lines += [f"note: {n}" for n in result["notes"]]
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def chart(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = result["cells"]
    targets = [t.name for t in TARGETS if any(c["target"] == t.name for c in cells)]
    colors = {
        "okr-service 1w": "#d62728",
        "okr-service 2w": "#ff9896",
        "floor": "#2ca02c",
        "postgraphile": "#1f77b4",
    }
    panels = [
        ("p50 latency (ms), concurrency 1", lambda c: c["concurrency"] == 1, "p50_ms"),
        (
            "p99 latency (ms), concurrency 16 reads / 32 writes",
            lambda c: c["concurrency"] in (16, 32),
            "p99_ms",
        ),
        (
            "throughput (req/s), concurrency 16 reads / 8, 32 writes",
            lambda c: c["concurrency"] in (8, 16, 32),
            "rps",
        ),
        ("peak RSS per worker (MB), any cell", None, "rss"),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(15, 9))
    for ax, (title, keep, metric) in zip(axes.flat, panels, strict=True):
        if metric == "rss":
            labels = targets
            values = [
                max(
                    (max(c["peak_rss_mb_per_worker"] or [0]) for c in cells if c["target"] == t),
                    default=0,
                )
                for t in targets
            ]
            ax.bar(labels, values, color=[colors.get(t, "grey") for t in targets])
            for i, v in enumerate(values):
                ax.text(i, v, f"{v:.0f}", ha="center", va="bottom", fontsize=8)
            ax.set_title(title)
            continue
        groups = []
        for c in cells:
            if keep(c):
                g = f"{c['workload']}\nc={c['concurrency']}"
                if g not in groups:
                    groups.append(g)
        width = 0.8 / max(1, len(targets))
        for i, t in enumerate(targets):
            xs, ys = [], []
            for gi, g in enumerate(groups):
                for c in cells:
                    if c["target"] == t and keep(c) and f"{c['workload']}\nc={c['concurrency']}" == g:
                        xs.append(gi + i * width)
                        ys.append(c[metric])
            ax.bar(xs, ys, width, label=t, color=colors.get(t, "grey"))
        ax.set_xticks([gi + 0.4 - width / 2 for gi in range(len(groups))])
        ax.set_xticklabels(groups, fontsize=7)
        ax.set_title(title)
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    fig.suptitle(
        f"okr-service vs floor vs PostGraphile 4.14.1, size {result['size']}, "
        f"{result['machine']['cpus']} CPUs, {result['timestamp']}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


async def run(
    size: str,
    *,
    reuse: bool = False,
    only: list[str] | None = None,
    duration: float | None = None,
    warmup: float | None = None,
    workload_keys: list[str] | None = None,
) -> dict[str, Any]:
    meta = await gen.generate(size, reuse=reuse)
    busy = psutil.cpu_percent(interval=2.0)
    if busy > 15:
        print(
            f"[run] warning: the machine is {busy:.0f}% busy before the bench starts; "
            "other processes share the CPUs and will distort the numbers",
            flush=True,
        )
    measure, warm = TIMING[size]
    measure = duration or measure
    warm = warmup or warm
    targets = [t for t in TARGETS if not only or t.name in only or t.kind in only]
    notes = [n for n in [workloads.w3_note()] if n]
    notes.append(f"CPU busy before start: {busy:.0f}% (other processes on the machine).")
    if not POSTGRAPHILE_CLI.exists() or shutil.which("node") is None:
        targets = [t for t in targets if t.kind != "pg"]
        notes.append("PostGraphile skipped: bench/.postgraphile is not installed (run bench/run.sh).")
    notes.append(
        "W2 not run on PostGraphile: its generated CRUD mutations cannot do the same "
        "transaction (check-in + key result update + outbox event) without custom SQL functions."
    )
    notes.append(
        "W1 subtree: okr-service and the floor use one objectives(filter: {cycleId, teamId: department, "
        "includeSubteams: true}); PostGraphile, lacking a recursive filter, one alias per team of the subtree."
    )
    notes.append(
        "PostGraphile runs without authentication or tenant check; okr-service and the floor "
        "look the API key up on every request."
    )

    # PostGraphile's node IDs: learned from a running instance.
    alias = None
    pg_target = next((t for t in targets if t.kind == "pg"), None)
    if pg_target:
        server = Server(pg_target, meta["database"], PG_PORT)
        try:
            await server.wait_ready()
            alias = await pg_node_alias(pg_target.port)
        finally:
            server.stop()
    loads = [w for w in workloads.build(meta, alias) if not workload_keys or w.key in workload_keys]

    # Untimed pass: statements per request through the counting proxy.
    proxy = PgProxy(PROXY_PORT, "127.0.0.1", PG_PORT)
    await proxy.start()
    sql: dict[str, Any] = {}
    try:
        seen = set()
        for t in targets:
            if t.kind in seen:
                continue
            seen.add(t.kind)
            print(f"[sql] counting statements of {t.name}", flush=True)
            sql[t.name] = await count_statements(t, meta, loads, proxy)
            await clean_writes(meta["dsn"])
    finally:
        await proxy.stop()

    cells: list[dict[str, Any]] = []
    w1_rows: dict[str, Any] = {}
    for t in targets:
        print(f"[run] {t.name}: starting", flush=True)
        server = Server(t, meta["database"], PG_PORT)
        try:
            await server.wait_ready()
            headers = t.headers(meta["api_key"])
            for w in loads:
                bodies = t.bodies(w)
                if not bodies or (w.write and t.kind == "pg"):
                    continue
                status, payload = await request_once("127.0.0.1", t.port, "/graphql", bodies[0], headers)
                if is_error(status, payload, w.write):
                    raise RuntimeError(f"{t.name} {w.key} answered {status}: {payload[:500]!r}")
                if w.key.startswith("W1"):
                    w1_rows.setdefault(w.key, {})[t.name] = count_rows(payload)
                for conc in w.concurrencies:
                    load_before = os.getloadavg()[0]
                    paths_before = await queries_by_path(t.port) if t.kind == "svc" else {}
                    with RssSampler(server) as sampler:
                        r = await run_cell(t, bodies, headers, conc, measure, warm, w.write)
                    r["loadavg_1m_before"] = load_before
                    if t.kind == "svc":
                        r["read_path"] = served_by(paths_before, await queries_by_path(t.port))
                    rss = [v / 2**20 for v in sampler.peaks.values()]
                    cell = {
                        "target": t.name,
                        "workload": w.key,
                        "concurrency": conc,
                        **r,
                        "peak_rss_mb_per_worker": sorted(rss, reverse=True),
                    }
                    cells.append(cell)
                    print(
                        f"  {w.key:<12} c={conc:<3} {r['rps']:>8.0f} req/s  p50 {r['p50_ms']:7.2f} ms  "
                        f"p99 {r['p99_ms']:7.2f} ms  err {r['errors']}  RSS {'/'.join(f'{x:.0f}' for x in rss)} MB",
                        flush=True,
                    )
                    if r["errors"]:
                        print(f"    first error: {r['first_error']}", flush=True)
        except Exception:
            print(f"[run] {t.name} log tail:\n{server.tail()}", flush=True)
            raise
        finally:
            if any(c["errors"] for c in cells if c["target"] == t.name):
                print(f"[run] {t.name} had errors; log tail:\n{server.tail()[-1500:]}", flush=True)
            server.stop()
        await clean_writes(meta["dsn"])

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result = {
        "size": size,
        "timestamp": stamp,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "node": subprocess.run(["node", "-v"], capture_output=True, text=True).stdout.strip()
            if shutil.which("node")
            else None,
            "postgres": await server_version(meta["dsn"]),
        },
        "timing": {
            "duration_s": measure,
            "warmup_s": warm,
            "client": "raw asyncio HTTP/1.1 keep-alive, separate process",
        },
        "data": {"database": meta["database"], "counts": meta["counts"], "shape": meta["size"]},
        "cells": cells,
        "ratios": ratios(cells),
        "sql": sql,
        "w1_rows": w1_rows,
        "notes": notes,
    }
    RESULTS.mkdir(exist_ok=True)
    text = print_table(result)
    for name in (f"{size}-{stamp}", f"latest-{size}"):
        (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
        (RESULTS / f"{name}.txt").write_text(text + "\n")
    chart(result, RESULTS / f"{size}-{stamp}.png")
    shutil.copyfile(RESULTS / f"{size}-{stamp}.png", RESULTS / f"latest-{size}.png")
    print(
        f"\nwrote {RESULTS.relative_to(ROOT)}/{size}-{stamp}.{{json,txt,png}} and latest-{size}.*",
        flush=True,
    )
    return result


async def server_version(dsn: str) -> str:
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetchval("SHOW server_version")
    finally:
        await connection.close()
