"""Is the load generator the bottleneck? The raw client against httpx, on the floor's W4."""

from __future__ import annotations

from bench import generate as gen
from bench import runner, workloads


async def check(size: str) -> None:
    meta = await gen.generate(size, reuse=True)
    loads = {w.key: w for w in workloads.build(meta, None)}
    target = next(t for t in runner.TARGETS if t.kind == "floor")
    server = runner.Server(target, meta["database"], runner.PG_PORT)
    try:
        await server.wait_ready()
        headers = target.headers(meta["api_key"])
        for key in ("W4 node", "W1 page 25"):
            for conc in (1, 16):
                for client in ("raw", "httpx"):
                    r = await runner.run_cell(target, loads[key].bodies["svc"], headers, conc, 4, 1, False, client)
                    print(
                        f"{key:<11} c={conc:<3} {client:<6} {r['rps']:>8.0f} req/s  p50 {r['p50_ms']:6.2f} ms  "
                        f"p99 {r['p99_ms']:6.2f} ms  err {r['errors']}",
                        flush=True,
                    )
    finally:
        server.stop()
