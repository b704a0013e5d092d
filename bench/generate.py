"""Benchmark data: an organisation tree with cycles, OKRs, check-ins, initiatives and alignment.

Written with asyncpg COPY straight into a dedicated database `okr_bench_<size>`, after the
service's own migrations, so every row satisfies the service's constraints. The organisation
and its API key are made by the service itself (`create_organization`).

    python -m bench.generate mid            # (re)create okr_bench_mid
    python -m bench.generate xl --reuse     # keep it when it is already there

Shape (per size): one company team, D departments below it, T teams below each department.
Every team row (company, departments, teams) owns O objectives per cycle, each with K key
results; each key result has C check-ins (the newest is its current value). Each objective
has 3 initiatives linked to its key results with an expected impact (one link per key
result). Every objective below the company CONTRIBUTES_TO the parent team's objective of the
same cycle and index (even index) or to that objective's first key result (odd index).
Cycles: one annual cycle holding 4 quarters, all ACTIVE.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
from uuid_utils.compat import uuid7

GENERATOR_VERSION = 2
ADMIN_DSN = os.environ.get("BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass(frozen=True)
class Size:
    name: str
    departments: int
    teams_per_department: int
    objectives: int  # per team and cycle
    key_results: int  # per objective
    check_ins: int  # per key result
    initiatives: int = 3  # per objective

    @property
    def team_rows(self) -> int:
        return 1 + self.departments * (1 + self.teams_per_department)

    @property
    def key_result_rows(self) -> int:
        return self.team_rows * 5 * self.objectives * self.key_results

    @property
    def check_in_rows(self) -> int:
        return self.key_result_rows * self.check_ins


SIZES = {
    # CI smoke: a few hundred rows, seconds to build.
    "small": Size("small", departments=2, teams_per_department=2, objectives=2, key_results=2, check_ins=3),
    # The mid: 1 company, 8 departments, 40 teams, 4x4 OKRs, 12 check-ins per KR.
    "mid": Size("mid", departments=8, teams_per_department=5, objectives=4, key_results=4, check_ins=12),
    # 10x mid: same subtree shape, ten times the departments.
    "large": Size("large", departments=80, teams_per_department=5, objectives=4, key_results=4, check_ins=12),
    # Cost growth: ~1.0M key results and ~10M check-ins, same subtree shape.
    "xl": Size("xl", departments=2100, teams_per_department=5, objectives=4, key_results=4, check_ins=10),
}

HEALTHS = ("ON_TRACK", "ON_TRACK", "ON_TRACK", "AT_RISK", "OFF_TRACK")
STATUSES = ("PROPOSED", "PLANNED", "IN_PROGRESS", "DONE")
CHUNK = 200_000


def database_name(size: str) -> str:
    return f"okr_bench_{size}"


def dsn_for(database: str) -> str:
    base = ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base}/{database}"


def sqlalchemy_url(database: str) -> str:
    return dsn_for(database).replace("postgresql://", "postgresql+asyncpg://", 1)


async def read_meta(database: str) -> dict[str, Any] | None:
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        comment = await admin.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
            database,
        )
    finally:
        await admin.close()
    if not comment:
        return None
    try:
        return json.loads(comment)
    except ValueError:
        return None


async def recreate_database(database: str) -> None:
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()


SERVICE_DIR = Path(os.environ.get("BENCH_SERVICE_DIR", Path(__file__).resolve().parents[1]))


async def migrate_and_create_org(database: str) -> tuple[UUID, str]:
    """The service's migrations and an organisation with an admin key, by the service's CLI
    (`okr-service create-org` migrates first), run from BENCH_SERVICE_DIR (default: this
    checkout) so that another checkout of the service can be benchmarked."""
    env = {**os.environ, "OKR_DATABASE_URL": sqlalchemy_url(database), "OKR_LOG_LEVEL": "WARNING"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "okr_service",
        "create-org",
        "Bench Corp",
        cwd=SERVICE_DIR,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"okr-service create-org failed: {err.decode()[-3000:]}")
    created = json.loads(out.decode().strip().splitlines()[-1])
    org = UUID(base64.b64decode(created["organizationId"]).decode().split(":", 1)[1])
    return org, created["apiKey"]


class Copier:
    """Buffers rows per table and COPYs them in chunks."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection
        self.buffers: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
        self.counts: dict[str, int] = {}

    async def add(self, table: str, columns: list[str], row: tuple[Any, ...]) -> None:
        buffer = self.buffers.setdefault(table, (columns, []))[1]
        buffer.append(row)
        if len(buffer) >= CHUNK:
            # Every table, in the order they were first added (parents first): a chunk of
            # check-ins must not reach the database before the key results they reference.
            await self.flush()

    async def flush(self, table: str | None = None) -> None:
        for name in [table] if table else list(self.buffers):
            columns, rows = self.buffers[name]
            if rows:
                await self.connection.copy_records_to_table(name, records=rows, columns=columns)
                self.counts[name] = self.counts.get(name, 0) + len(rows)
                rows.clear()


TEAM_COLS = ["id", "organization_id", "name", "parent_id"]
CYCLE_COLS = ["id", "organization_id", "name", "starts_on", "ends_on", "parent_id", "state"]
OBJ_COLS = [
    "id",
    "organization_id",
    "team_id",
    "cycle_id",
    "title",
    "description",
    "owner",
    "kind",
    "state",
    "health",
    "progress_mode",
    "version",
]
KR_COLS = [
    "id",
    "organization_id",
    "objective_id",
    "team_id",
    "title",
    "metric",
    "unit",
    "direction",
    "start_value",
    "target_value",
    "current_value",
    "weight",
    "confidence",
    "indicator",
    "health",
    "version",
]
CI_COLS = [
    "id",
    "organization_id",
    "key_result_id",
    "value",
    "health",
    "confidence",
    "note",
    "author",
    "checked_at",
]
INI_COLS = [
    "id",
    "organization_id",
    "team_id",
    "title",
    "description",
    "status",
    "impact",
    "confidence",
    "ease",
    "external_system",
    "external_key",
    "version",
]
LINK_COLS = ["id", "organization_id", "initiative_id", "key_result_id", "expected_impact"]
ALIGN_COLS = [
    "id",
    "organization_id",
    "kind",
    "source_objective_id",
    "target_objective_id",
    "target_key_result_id",
]


async def fill(database: str, size: Size, org: UUID) -> dict[str, Any]:
    rng = random.Random(42)
    connection = await asyncpg.connect(dsn_for(database))
    copier = Copier(connection)
    now = datetime.now(UTC)
    year = now.year
    try:
        # Teams: company, departments, teams (parents first).
        company = uuid7()
        await copier.add("teams", TEAM_COLS, (company, org, "Company", None))
        departments: list[UUID] = []
        subtrees: list[list[UUID]] = []
        parent_of: dict[UUID, UUID | None] = {company: None}
        for d in range(size.departments):
            dep = uuid7()
            departments.append(dep)
            parent_of[dep] = company
            await copier.add("teams", TEAM_COLS, (dep, org, f"Department {d + 1}", company))
        for d, dep in enumerate(departments):
            members = [dep]
            for t in range(size.teams_per_department):
                team = uuid7()
                parent_of[team] = dep
                members.append(team)
                await copier.add("teams", TEAM_COLS, (team, org, f"Team {d + 1}.{t + 1}", dep))
            subtrees.append(members)
        all_teams = [company, *departments, *[t for s in subtrees for t in s[1:]]]
        await copier.flush("teams")

        # Cycles: the year, then its quarters.
        annual = uuid7()
        cycles = [(annual, f"FY{year}", date(year, 1, 1), date(year, 12, 31), None)]
        quarters: list[UUID] = []
        for q in range(4):
            quarter = uuid7()
            quarters.append(quarter)
            start = date(year, 3 * q + 1, 1)
            end = (date(year + (q == 3), (3 * q + 3) % 12 + 1, 1)) - timedelta(days=1)
            cycles.append((quarter, f"Q{q + 1} {year}", start, end, annual))
        for cid, name, start, end, parent in cycles:
            await copier.add("cycles", CYCLE_COLS, (cid, org, name, start, end, parent, "ACTIVE"))
        await copier.flush("cycles")

        # Objectives, key results, check-ins, initiatives; parents before children so that
        # alignment targets exist (teams are in tree order already).
        objective_of: dict[tuple[UUID, UUID, int], UUID] = {}
        first_kr_of: dict[UUID, UUID] = {}
        sample_krs: list[UUID] = []  # key results of the W2 quarter, for check-in writes
        sample_objectives: list[UUID] = []
        week = timedelta(days=7)
        for cycle_id, *_ in cycles:
            for team in all_teams:
                for i in range(size.objectives):
                    oid = uuid7()
                    objective_of[(team, cycle_id, i)] = oid
                    await copier.add(
                        "objectives",
                        OBJ_COLS,
                        (
                            oid,
                            org,
                            team,
                            cycle_id,
                            f"Objective {i + 1} of {str(team)[-6:]}",
                            "Make the thing measurably better for our customers.",
                            f"owner{i}@bench",
                            "COMMITTED" if i % 2 == 0 else "ASPIRATIONAL",
                            "ACTIVE",
                            HEALTHS[i % len(HEALTHS)],
                            "KEY_RESULTS",
                            1,
                        ),
                    )
                    if len(sample_objectives) < 5000:
                        sample_objectives.append(oid)
                    krs: list[UUID] = []
                    for k in range(size.key_results):
                        kid = uuid7()
                        krs.append(kid)
                        target = Decimal(100 * (k + 1))
                        values = [
                            Decimal(round(float(target) * (c + 1) / (size.check_ins + 2), 2))
                            for c in range(size.check_ins)
                        ]
                        health = HEALTHS[(i + k) % len(HEALTHS)]
                        await copier.add(
                            "key_results",
                            KR_COLS,
                            (
                                kid,
                                org,
                                oid,
                                team,
                                f"Key result {k + 1}",
                                "PERCENTAGE" if k % 2 else "NUMBER",
                                "%" if k % 2 else "users",
                                "INCREASE",
                                Decimal(0),
                                target,
                                values[-1] if values else None,
                                Decimal(1),
                                Decimal("0.7"),
                                "LEADING" if k % 2 else "LAGGING",
                                health,
                                size.check_ins + 1,
                            ),
                        )
                        if cycle_id == quarters[1] and len(sample_krs) < 20000:
                            sample_krs.append(kid)
                        for c, value in enumerate(values):
                            checked = now - week * (size.check_ins - c) - timedelta(minutes=rng.randrange(600))
                            await copier.add(
                                "check_ins",
                                CI_COLS,
                                (
                                    uuid7(),
                                    org,
                                    kid,
                                    value,
                                    health,
                                    Decimal("0.7"),
                                    "Steady progress this week." if c % 3 else None,
                                    "bench",
                                    checked,
                                ),
                            )
                    first_kr_of[oid] = krs[0]
                    inis: list[UUID] = []
                    for n in range(size.initiatives):
                        nid = uuid7()
                        inis.append(nid)
                        await copier.add(
                            "initiatives",
                            INI_COLS,
                            (
                                nid,
                                org,
                                team,
                                f"Initiative {n + 1} of objective {i + 1}",
                                None,
                                STATUSES[n % len(STATUSES)],
                                1 + n * 3,
                                8 - n,
                                5,
                                "jira" if n == 0 else None,
                                f"OKR-{rng.randrange(10**6)}" if n == 0 else None,
                                1,
                            ),
                        )
                    for k, kid in enumerate(krs):
                        await copier.add(
                            "initiative_key_results",
                            LINK_COLS,
                            (
                                uuid7(),
                                org,
                                inis[k % len(inis)],
                                kid,
                                Decimal(10 * (k + 1)),
                            ),
                        )
        await copier.flush("objectives")
        await copier.flush("key_results")
        await copier.flush("initiatives")
        await copier.flush()

        for cycle_id, *_ in cycles:
            for team in all_teams:
                parent = parent_of[team]
                if parent is None:
                    continue
                for i in range(size.objectives):
                    source = objective_of[(team, cycle_id, i)]
                    target = objective_of[(parent, cycle_id, i)]
                    if i % 2 == 0:
                        row = (uuid7(), org, "CONTRIBUTES_TO", source, target, None)
                    else:
                        row = (uuid7(), org, "CONTRIBUTES_TO", source, None, first_kr_of[target])
                    await copier.add("alignment_links", ALIGN_COLS, row)
        await copier.flush()
        # Statistics for the planner, and the visibility map set, as a database that has
        # been running a while has it: index-only scans then skip the heap.
        await connection.execute("VACUUM (ANALYZE)")
    finally:
        await connection.close()
    return {
        "organization_id": str(org),
        "w1_cycle": str(quarters[1]),
        "subtrees": [[str(t) for t in s] for s in subtrees[:64]],
        "sample_key_results": [str(k) for k in sample_krs[:2000]],
        "sample_objectives": [str(o) for o in sample_objectives[:2000]],
        "counts": copier.counts,
    }


async def generate(size_name: str, *, reuse: bool = False) -> dict[str, Any]:
    """Build (or reuse) the database of `size_name`; returns its metadata incl. the API key."""
    size = SIZES[size_name]
    database = database_name(size_name)
    if reuse:
        meta = await read_meta(database)
        if meta and meta.get("version") == GENERATOR_VERSION and meta.get("size") == asdict(size):
            print(f"[generate] reusing {database}", flush=True)
            return meta
    started = time.perf_counter()
    await recreate_database(database)
    org, secret = await migrate_and_create_org(database)
    info = await fill(database, size, org)
    meta = {
        "version": GENERATOR_VERSION,
        "size": asdict(size),
        "database": database,
        "dsn": dsn_for(database),
        "api_key": secret,
        "generated_at": datetime.now(UTC).isoformat(),
        "seconds": round(time.perf_counter() - started, 2),
        **info,
    }
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        comment = json.dumps(meta).replace("'", "''")
        await admin.execute(f"COMMENT ON DATABASE \"{database}\" IS '{comment}'")
    finally:
        await admin.close()
    counts = ", ".join(f"{k} {v}" for k, v in meta["counts"].items())
    print(f"[generate] {database} in {meta['seconds']} s: {counts}", flush=True)
    return meta


def main() -> None:
    parser = argparse.ArgumentParser(description="Generate benchmark data.")
    parser.add_argument("size", choices=sorted(SIZES))
    parser.add_argument("--reuse", action="store_true", help="keep an up-to-date database")
    args = parser.parse_args()
    asyncio.run(generate(args.size, reuse=args.reuse))


if __name__ == "__main__":
    main()
