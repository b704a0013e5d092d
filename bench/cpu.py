"""CPU time per request, in process: what a change costs or saves, even on a busy machine.

    python -m bench cpu --size mid [--requests 200] [--workload "W1 page 25" ...]
                        [--pooler transaction [--pooler-port 6432]]

Wall-clock latency needs a quiet machine (`python -m bench run`); the CPU time one request
takes in the service's own process does not: it is read with `time.process_time` around
sequential requests sent through httpx's ASGI transport (no sockets, no HTTP parsing),
after a warm-up. A comparison tool for before and after a change, not a replacement for
the bench's table (it leaves out the HTTP server and the client).

`--pooler transaction` runs the service as behind a transaction pooler (no prepared
statement kept, the timeouts set by each BEGIN: OKR_DATABASE_POOLER), on PostgreSQL itself,
or through the pooler listening at `--pooler-port` on 127.0.0.1 (e.g. a PgBouncer with
`pool_mode = transaction` in front of the bench's PostgreSQL).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from sqlalchemy.engine import make_url

from bench import generate as gen
from bench import inprocess

READS = ("W1 page 25", "W1 page 100", "W1 subtree", "W4 node", "W3 report", "W5 team page")


async def measure(size: str, requests: int, only: list[str], pooler: str, pooler_port: int | None) -> None:
    direct = gen.sqlalchemy_url(gen.database_name(size))
    through = direct
    if pooler_port is not None:
        through = make_url(direct).set(host="127.0.0.1", port=pooler_port).render_as_string(hide_password=False)
    pooled = {"OKR_DATABASE_URL": through, "OKR_DATABASE_POOLER": pooler, "OKR_DATABASE_DIRECT_URL": direct}
    async with inprocess.service(size, **pooled) as running:
        client, headers, loads = running.client, running.headers, running.loads
        print(f"{'workload':14} {'cpu ms/req':>10} {'stdev':>6} {'wall ms/req':>11}")
        for key in only or READS:
            if key not in loads:
                continue
            bodies = loads[key].bodies["svc"]
            cpu: list[float] = []
            started = time.perf_counter()
            for index in range(requests + requests // 5):
                before = time.process_time()
                response = await client.post("/graphql", content=bodies[index % len(bodies)], headers=headers)
                spent = time.process_time() - before
                assert response.status_code == 200, response.text
                assert b'"errors"' not in response.content, response.text
                if index >= requests // 5:  # the first fifth warms up
                    cpu.append(spent * 1000)
            wall = (time.perf_counter() - started) * 1000 / len(cpu)
            print(f"{key:14} {statistics.median(cpu):10.2f} {statistics.stdev(cpu):6.2f} {wall:11.2f}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench cpu")
    parser.add_argument("--size", default="mid", choices=["small", "mid", "large", "xl"])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--workload", action="append", default=[])
    parser.add_argument("--pooler", choices=["none", "transaction"], default="none")
    parser.add_argument("--pooler-port", type=int, default=None)
    args = parser.parse_args(argv)
    if args.pooler_port is not None and args.pooler != "transaction":
        parser.error("--pooler-port needs --pooler transaction")
    asyncio.run(measure(args.size, args.requests, args.workload, args.pooler, args.pooler_port))
