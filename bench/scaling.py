"""Throughput per added API process: `python -m bench scaling [--size mid] [--processes 1 2 3]`.

W1 page 25 (concurrency 16) and W2 checkIn (concurrency 32) against `okr-service serve
--workers N` for each N: N API processes sharing one listening socket (the kernel spreads
the connections), on the bench's data (`python -m bench generate SIZE`, reused when up to
date), with the bench's load generator (bench/loadgen.py) in its own process. Prints a table;
writes nothing under bench/results/ (the README quotes the full runs there).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from bench import generate as gen
from bench import runner, workloads

CELLS = {"W1 page 25": 16, "W2 checkIn": 32}
BASE_PORT = 8711


async def measure(size: str, counts: list[int], duration: float | None) -> list[dict[str, Any]]:
    meta = await gen.generate(size, reuse=True)
    seconds, warmup = runner.TIMING[size]
    seconds = duration or seconds
    loads = {w.key: w for w in workloads.build(meta, None) if w.key in CELLS}
    rows = []
    for processes in counts:
        target = runner.Target(f"okr-service {processes}p", "svc", BASE_PORT + processes, processes)
        server = runner.Server(target, meta["database"], runner.PG_PORT)
        try:
            await server.wait_ready()
            headers = target.headers(meta["api_key"])
            for key, concurrency in CELLS.items():
                load = loads[key]
                busy = os.getloadavg()[0]
                cell = await runner.run_cell(
                    target, load.bodies["svc"], headers, concurrency, seconds, warmup, load.write
                )
                rows.append(
                    {"processes": processes, "workload": key, "concurrency": concurrency, "loadavg": busy, **cell}
                )
                print(
                    f"  {processes} process(es)  {key:<11} c={concurrency:<3} {cell['rps']:7.0f} req/s  "
                    f"p50 {cell['p50_ms']:7.1f} ms  p99 {cell['p99_ms']:7.1f} ms  errors {cell['errors']}  "
                    f"(load average before {busy:.1f})",
                    flush=True,
                )
        finally:
            server.stop()
        await runner.clean_writes(meta["dsn"])
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| API processes | W1 page 25 req/s (c=16) | W1 p50 ms | W2 checkIn req/s (c=32) | W2 p50 ms |",
        "|---|---|---|---|---|",
    ]
    by = {(row["processes"], row["workload"]): row for row in rows}
    for processes in sorted({row["processes"] for row in rows}):
        w1, w2 = by[(processes, "W1 page 25")], by[(processes, "W2 checkIn")]
        lines.append(f"| {processes} | {w1['rps']:.0f} | {w1['p50_ms']:.0f} | {w2['rps']:.0f} | {w2['p50_ms']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench scaling", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="mid", choices=sorted(gen.SIZES))
    parser.add_argument("--processes", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--duration", type=float, help="seconds measured per cell")
    args = parser.parse_args(argv)
    rows = asyncio.run(measure(args.size, args.processes, args.duration))
    print(f"\n{os.cpu_count()} CPUs, size {args.size}\n" + table(rows))
