"""The load generator: a separate process, closed-loop, HTTP/1.1 keep-alive.

    python -m bench.loadgen SPEC.json   -> prints one JSON result line

SPEC: {"host", "port", "path", "headers": {..}, "bodies": [str, ...], "concurrency",
"duration", "warmup", "client": "raw" | "httpx", "write": bool}

`raw` is a minimal asyncio (uvloop) HTTP/1.1 client over one socket per virtual user: the
request bytes are built once, the response is read by Content-Length (or chunked). It costs a
few tens of microseconds per request, several times less than httpx, which matters on a
small machine where client and server share the CPUs (`python -m bench client-check`
measures both against the floor).

A request belongs to the measurement when it completes after the warm-up. New requests start
until the duration has passed and at least max(10, concurrency) requests were measured, or
until a hard stop (max(15 s, 4 x duration)): a very slow target still yields numbers.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None  # type: ignore[assignment]


def build_request(spec: dict[str, Any], body: bytes) -> bytes:
    lines = [
        f"POST {spec['path']} HTTP/1.1",
        f"Host: {spec['host']}:{spec['port']}",
        "Content-Type: application/json",
        "Accept: application/json",
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in spec.get("headers", {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = -1
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        lname = name.strip().lower()
        if lname == b"content-length":
            length = int(value)
        elif lname == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        parts = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        return status, b"".join(parts)
    return status, await reader.readexactly(length) if length > 0 else b""


def is_error(status: int, payload: bytes, write: bool) -> bool:
    if status != 200 or b'"errors"' in payload[:200_000]:
        return True
    return write and b'"code"' in payload


class Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.bytes = 0
        self.first_error: str | None = None
        self.last_end = 0.0


async def user_raw(
    spec: dict[str, Any],
    requests: list[bytes],
    offset: int,
    stop: list[float],
    warm_stats: Stats,
    stats: Stats,
    measure_from: float,
) -> None:
    reader, writer = await asyncio.open_connection(spec["host"], spec["port"])
    i = offset
    n = len(requests)
    write = bool(spec.get("write"))
    try:
        while True:
            start = time.perf_counter()
            if done(start, stop, stats):
                break
            writer.write(requests[i % n])
            i += 1
            try:
                status, payload = await read_response(reader)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                # Count it, reconnect, go on: a dropped connection is an error, not a crash.
                status, payload = 599, repr(exc).encode()
                writer.close()
                await asyncio.sleep(0.01)
                reader, writer = await asyncio.open_connection(spec["host"], spec["port"])
            end = time.perf_counter()
            target = stats if end >= measure_from else warm_stats
            stats.last_end = max(stats.last_end, end)
            target.latencies.append(end - start)
            target.bytes += len(payload)
            if is_error(status, payload, write):
                target.errors += 1
                if target.first_error is None:
                    target.first_error = f"{status} {payload[:300]!r}"
    finally:
        writer.close()


async def user_httpx(
    spec: dict[str, Any],
    bodies: list[bytes],
    offset: int,
    stop: list[float],
    warm_stats: Stats,
    stats: Stats,
    measure_from: float,
    client: Any,
) -> None:
    url = f"http://{spec['host']}:{spec['port']}{spec['path']}"
    headers = {"Content-Type": "application/json", **spec.get("headers", {})}
    i = offset
    n = len(bodies)
    write = bool(spec.get("write"))
    while True:
        start = time.perf_counter()
        if done(start, stop, stats):
            break
        response = await client.post(url, content=bodies[i % n], headers=headers)
        i += 1
        payload = response.content
        end = time.perf_counter()
        target = stats if end >= measure_from else warm_stats
        stats.last_end = max(stats.last_end, end)
        target.latencies.append(end - start)
        target.bytes += len(payload)
        if is_error(response.status_code, payload, write):
            target.errors += 1
            if target.first_error is None:
                target.first_error = f"{response.status_code} {payload[:300]!r}"


def done(now: float, stop: list[float], stats: Stats) -> bool:
    """Past the duration with enough samples, or past the hard stop."""
    return (now >= stop[0] and len(stats.latencies) >= stop[2]) or now >= stop[1]


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    bodies = [b.encode() if isinstance(b, str) else b for b in spec["bodies"]]
    concurrency = int(spec["concurrency"])
    warmup = float(spec.get("warmup", 1.0))
    duration = float(spec.get("duration", 5.0))
    begin = time.perf_counter()
    measure_from = begin + warmup
    min_requests = int(spec.get("min_requests", max(10, concurrency)))
    stop = [measure_from + duration, measure_from + max(15.0, 4 * duration), min_requests]
    warm, stats = Stats(), Stats()
    step = max(1, len(bodies) // max(1, concurrency))
    if spec.get("client", "raw") == "httpx":
        import httpx

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:
            await asyncio.gather(
                *(
                    user_httpx(spec, bodies, u * step, stop, warm, stats, measure_from, client)
                    for u in range(concurrency)
                )
            )
    else:
        requests = [build_request(spec, b) for b in bodies]
        await asyncio.gather(
            *(user_raw(spec, requests, u * step, stop, warm, stats, measure_from) for u in range(concurrency))
        )
    lat = sorted(stats.latencies)
    count = len(lat)
    elapsed = max(1e-9, stats.last_end - measure_from)
    return {
        "requests": count,
        "errors": stats.errors + warm.errors,
        "first_error": stats.first_error or warm.first_error,
        "warmup_requests": len(warm.latencies),
        "rps": count / elapsed if elapsed else 0.0,
        "measured_s": elapsed,
        "p50_ms": percentile(lat, 0.50) * 1000,
        "p90_ms": percentile(lat, 0.90) * 1000,
        "p99_ms": percentile(lat, 0.99) * 1000,
        "mean_ms": (sum(lat) / count * 1000) if count else float("nan"),
        "max_ms": (lat[-1] * 1000) if lat else float("nan"),
        "bytes_per_response": (stats.bytes / count) if count else 0,
    }


def main() -> None:
    with open(sys.argv[1]) as handle:
        spec = json.load(handle)
    if uvloop is not None:
        uvloop.install()
    result = asyncio.run(run(spec))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
