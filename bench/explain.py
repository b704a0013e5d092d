"""Every SQL statement okr-service sends for each read workload, with its plan and timing.

    python -m bench explain --size xl [--workload "W1 page 25" ...]

The service runs in process on the size's database; each workload's first request is sent
twice (the first warms caches and the driver's type lookups), and the statements of the
second are captured with their arguments: those SQLAlchemy runs (its cursor events) and
those sent through asyncpg directly (its query log). Each is then run again under
`EXPLAIN (ANALYZE, BUFFERS)`, as the request's tenant, and summarised: the plan's scans
(a sequential scan of a large table is what grows with the data), rows, buffers and time.
Run it on `mid` and on `xl` to see what grows between them; the summary of them all is also
written to bench/results/explain-<size>.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event

from bench import generate as gen
from bench import inprocess

READS = ("W1 page 25", "W1 page 100", "W1 subtree", "W4 node", "W5 team page", "W3 report")
TENANT = "SELECT set_config('role', 'okr_tenant', false), set_config('okr.organization_id', $1, false)"
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "RESET ROLE", "SAVEPOINT", "RELEASE")
SMALL_TABLE_ROWS = 1000  # a sequential scan below this is fine
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Captured:
    statements: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    on: bool = False

    def sqlalchemy(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if self.on:
            self.statements.append((statement, tuple(parameters or ())))

    def asyncpg(self, logged: Any) -> None:
        query = logged.query.strip()
        if self.on and logged.args and not query.upper().startswith(CONTROL):
            self.statements.append((query, tuple(logged.args)))


def scans(plan: dict[str, Any]) -> list[str]:
    """The plan's scan nodes, as `Index Only Scan on key_results (rows 96)`."""
    found = []
    node_type = plan.get("Node Type", "")
    if "Scan" in node_type and "Relation Name" in plan:
        found.append(f"{node_type} on {plan['Relation Name']} (rows {plan.get('Actual Rows', '?')})")
    for child in plan.get("Plans", []):
        found.extend(scans(child))
    return found


async def explain(dsn: str, organization: str, statement: str, args: tuple[Any, ...]) -> dict[str, Any]:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("SET jit = off")  # as the service's connections run
        await connection.fetch(TENANT, organization)
        [row] = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {statement}", *args)
    finally:
        await connection.close()
    [result] = json.loads(row[0])
    return result


async def measure(size: str, only: list[str]) -> None:
    captured = Captured()
    lines: list[str] = []
    async with inprocess.service(size) as running:
        app, client, headers, meta = running.app, running.client, running.headers, running.meta
        tenant_sessions = app.state.tenant_sessions
        for engine in [app.state.engine] + ([tenant_sessions.engine] if tenant_sessions else []):
            event.listen(engine.sync_engine, "before_cursor_execute", captured.sqlalchemy)

            @event.listens_for(engine.sync_engine, "connect")
            def log_queries(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.driver_connection.add_query_logger(captured.asyncpg)

            await engine.dispose()  # connections made from here on log their queries
        for key in only or READS:
            body = running.loads[key].bodies["svc"][0]
            await client.post("/graphql", content=body, headers=headers)  # warm up
            captured.statements.clear()
            captured.on = True
            response = await client.post("/graphql", content=body, headers=headers)
            captured.on = False
            assert response.status_code == 200, response.text
            lines += await report(key, meta, captured.statements)
    text = "\n".join(lines)
    print(text)
    if not only:  # the whole set: the file the README quotes
        (RESULTS / f"explain-{size}.txt").write_text(text + "\n")


async def report(key: str, meta: dict[str, Any], statements: list[tuple[str, tuple[Any, ...]]]) -> list[str]:
    lines = [f"\n== {key}: {len(statements)} statements after the tenant switch"]
    dsn = gen.dsn_for(meta["database"])
    for statement, args in statements:
        if "api_keys" in statement:
            continue  # the key lookup: cached between requests in production
        plan = await explain(dsn, str(meta["organization_id"]), statement, args)
        top = plan["Plan"]
        buffers = top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)
        lines.append(
            f"  {plan['Execution Time']:7.2f} ms  rows {top.get('Actual Rows', '?'):>5}  buffers {buffers:>6}"
            f"  {' '.join(statement.split())[:110]}"
        )
        for scan in scans(top):
            large = scan.startswith("Seq Scan") and _rows(scan) > SMALL_TABLE_ROWS
            lines.append(f"      {'!! ' if large else ''}{scan}")
    return lines


def _rows(scan: str) -> int:
    try:
        return int(scan.rsplit("rows ", 1)[1].rstrip(")"))
    except ValueError:
        return 0


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench explain")
    parser.add_argument("--size", default="mid", choices=sorted(gen.SIZES))
    parser.add_argument("--workload", action="append", default=[])
    args = parser.parse_args(argv)
    asyncio.run(measure(args.size, args.workload))
