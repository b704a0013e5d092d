"""py-spy on okr-service (1 worker) under W1 load: where the time goes.

    python -m bench profile --size mid [--seconds 20] [--workload "W1 subtree"]

Writes bench/results/profile-<size>-<workload>.{txt,svg?} with the top frames by self time
(leaf frame of each sample), by inclusive time, and by package.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
from collections import Counter

from bench import generate as gen
from bench import runner, workloads

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def short(frame: str, lines: bool = False) -> str:
    m = FRAME.match(frame)
    if not m:
        return frame
    file = m["file"]
    for marker in ("site-packages/", "lib/python3", "/work/main/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{m['func']} ({file}:{m['line']})" if m["line"] and lines else f"{m['func']} ({file})"


def package(frame: str) -> str:
    m = FRAME.match(frame)
    file = m["file"] if m else frame
    if "site-packages/" in file:
        return file.split("site-packages/", 1)[1].split("/", 1)[0]
    if "/work/main/" in file or file.startswith("service/"):
        return "service (okr-service)"
    if "python3" in file:
        return "stdlib"
    return file.split("/", 1)[0] or "?"


def analyse(raw: str, top: int = 15) -> str:
    self_time: Counter[str] = Counter()
    self_lines: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        leaf = frames[-1]
        self_time[short(leaf)] += count
        self_lines[short(leaf, lines=True)] += count
        packages[package(leaf)] += count
        for f in {short(f) for f in frames}:
            inclusive[f] += count
    if not total:
        return "no samples"
    out = [f"samples: {total}", "", f"Top {top} functions by self time:"]
    out += [f"  {n / total * 100:5.1f}%  {f}" for f, n in self_time.most_common(top)]
    out += ["", f"Top {top} lines by self time:"]
    out += [f"  {n / total * 100:5.1f}%  {f}" for f, n in self_lines.most_common(top)]
    out += ["", "Self time by package:"]
    out += [f"  {n / total * 100:5.1f}%  {p}" for p, n in packages.most_common(12)]
    out += ["", f"Top {top * 2} frames by inclusive time:"]
    out += [f"  {n / total * 100:5.1f}%  {f}" for f, n in inclusive.most_common(top * 2)]
    return "\n".join(out)


async def profile(size: str, seconds: float, workload: str, concurrency: int, reuse: bool) -> None:
    if shutil.which("py-spy") is None:
        sys.exit("py-spy is not installed: pip install -r bench/requirements.txt")
    meta = await gen.generate(size, reuse=reuse)
    loads = {w.key: w for w in workloads.build(meta, None)}
    w = loads[workload]
    target = runner.TARGETS[0]
    server = runner.Server(target, meta["database"], runner.PG_PORT)
    tag = workload.lower().replace(" ", "-")
    raw_path = runner.RESULTS / f"profile-{size}-{tag}.raw"
    runner.RESULTS.mkdir(exist_ok=True)
    try:
        await server.wait_ready()
        headers = target.headers(meta["api_key"])
        spy = subprocess.Popen(
            [
                "py-spy",
                "record",
                "--pid",
                str(server.proc.pid),
                "--duration",
                str(int(seconds)),
                "--rate",
                "250",
                "--format",
                "raw",
                "--output",
                str(raw_path),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        result = await runner.run_cell(target, w.bodies["svc"], headers, concurrency, seconds, 0.5, w.write)
        spy.wait(timeout=60)
    finally:
        server.stop()
    text = (
        f"py-spy on okr-service 1 worker, {workload} at concurrency {concurrency}, size {size}: "
        f"{result['rps']:.0f} req/s, p50 {result['p50_ms']:.2f} ms (under the profiler)\n\n"
        + analyse(raw_path.read_text())
    )
    (runner.RESULTS / f"profile-{size}-{tag}.txt").write_text(text + "\n")
    print(text)
    print(f"\nwrote bench/results/profile-{size}-{tag}.txt (raw stacks: {raw_path.name})")


def main(args: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench profile")
    parser.add_argument("--size", default="mid", choices=sorted(gen.SIZES))
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workload", default="W1 subtree")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--reuse", action="store_true")
    a = parser.parse_args(args)
    asyncio.run(profile(a.size, a.seconds, a.workload, a.concurrency, a.reuse))


if __name__ == "__main__":
    main()
