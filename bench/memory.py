"""Memory per worker: what importing costs, by package, and the peak RSS under load.

    python -m bench memory --size mid [--workload "W1 page 100"] [--concurrency 16]
                           [--seconds 20] [--workers 1] [--skip-imports]

1. Imports, in a fresh process of the service's environment: the top-level packages
   `okr_service.app` loads, imported one by one in the order `python -X importtime`
   finishes them (a package's dependencies before it, so each line is roughly what that
   package adds itself), then `okr_service.app` and `create_app()`, with the RSS after each.
2. Load: `okr-service serve --workers N` as the bench starts it (runner.Target), its RSS
   once ready, then the workload at the given concurrency for `--seconds` with the bench's
   load generator, psutil sampling each worker's RSS every 50 ms (as `python -m bench run`),
   then its RSS when idle again.

Prints the numbers; writes nothing under bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from typing import Any

import psutil

from bench import generate as gen
from bench import runner, workloads

PORT = 8721

# Run in the fresh process: RSS after each import, as JSON lines on stdout.
IMPORT_PROBE = """
import importlib, json, sys, psutil
process = psutil.Process()
def report(name):
    print(json.dumps([name, process.memory_info().rss]), flush=True)
report("(interpreter)")
for name in sys.argv[1:]:
    importlib.import_module(name)
    report(name)
from okr_service.app import create_app
report("okr_service.app")
app = create_app()
report("create_app()")
"""


LOADED = "import json, sys, okr_service.app; print(json.dumps(sorted(sys.modules)))"


def service_env(size: str) -> dict[str, str]:
    env = dict(os.environ)
    env["OKR_DATABASE_URL"] = gen.sqlalchemy_url(gen.database_name(size))
    return env


def import_order(env: dict[str, str]) -> list[str]:
    """Third-party top-level packages of `okr_service.app`, in the order their import ends."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", LOADED],
        env=env,
        cwd=gen.SERVICE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = set(json.loads(done.stdout))  # importtime lists failed attempts too
    order: list[str] = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        name = line.rsplit("|", 1)[1].strip()
        if "." in name or name not in loaded or name in sys.stdlib_module_names or name in order:
            continue
        if name.startswith("_") or name in ("okr_service", "sitecustomize", "usercustomize"):
            continue
        order.append(name)
    return order


def import_rss(env: dict[str, str]) -> list[tuple[str, float]]:
    """(module, RSS MB after importing it), cumulative, in one fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE, *import_order(env)],
        env=env,
        cwd=gen.SERVICE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("[")]
    return [(name, rss / 2**20) for name, rss in rows]


def print_imports(rows: list[tuple[str, float]]) -> None:
    print(f"{'import':<32} {'+MB':>6} {'RSS MB':>7}")
    before = rows[0][1]
    for name, rss in rows:
        print(f"{name:<32} {rss - before:6.1f} {rss:7.1f}")
        before = rss


def worker_rss(server: runner.Server) -> list[float]:
    sizes = []
    for process in server.workers():
        try:
            sizes.append(process.memory_info().rss / 2**20)
        except psutil.Error:
            continue
    return sorted(sizes, reverse=True)


async def under_load(size: str, workload: str, concurrency: int, seconds: float, workers: int) -> dict[str, Any]:
    meta = await gen.generate(size, reuse=True)
    load = {w.key: w for w in workloads.build(meta, None)}[workload]
    target = runner.Target(f"okr-service {workers}w", "svc", PORT, workers)
    server = runner.Server(target, meta["database"], runner.PG_PORT)
    try:
        await server.wait_ready()
        ready = worker_rss(server)
        with runner.RssSampler(server) as sampler:
            cell = await runner.run_cell(
                target, load.bodies["svc"], target.headers(meta["api_key"]), concurrency, seconds, 1.0, load.write
            )
        idle = worker_rss(server)
    finally:
        server.stop()
    if load.write:
        await runner.clean_writes(meta["dsn"])
    return {
        "ready_mb": ready,
        "peak_mb": sorted((v / 2**20 for v in sampler.peaks.values()), reverse=True),
        "idle_after_mb": idle,
        "rps": cell["rps"],
        "errors": cell["errors"],
        "kb_per_response": cell["bytes_per_response"] / 1024,
    }


def mbs(values: list[float]) -> str:
    return "/".join(f"{v:.1f}" for v in values) or "-"


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="mid", choices=sorted(gen.SIZES))
    parser.add_argument("--workload", default="W1 page 100")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--skip-imports", action="store_true", help="only the load part")
    args = parser.parse_args(argv)
    if not args.skip_imports:
        print_imports(import_rss(service_env(args.size)))
        print()
    found = asyncio.run(under_load(args.size, args.workload, args.concurrency, args.seconds, args.workers))
    print(
        f"okr-service {args.workers}w, {args.workload} at c={args.concurrency} for {args.seconds:.0f} s, "
        f"size {args.size}: {found['rps']:.0f} req/s, {found['errors']} errors, "
        f"{found['kb_per_response']:.0f} KB/response\n"
        f"RSS MB per worker: ready {mbs(found['ready_mb'])}, peak {mbs(found['peak_mb'])}, "
        f"idle after {mbs(found['idle_after_mb'])}"
    )
