"""The floor: the same answers as okr-service, from raw asyncpg rows and orjson, no GraphQL.

A minimal Starlette app at POST /graphql that reads `operationName` and `variables` (the
query text is ignored) and returns the same JSON shape okr-service returns for the bench's
documents. It authenticates the API key the way the service does (one lookup per request)
and scopes every statement to the key's organization.

    uvicorn bench.floor:app --port 8703 --loop uvloop --http httptools  (BENCH_FLOOR_DSN=...)

Tuned like a careful hand-written service would be: asyncpg pool without the reset-on-
release round trip, statements prepared once per connection (asyncpg's cache), `gc.freeze()`
after start-up, no access log.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import os
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from uuid_utils.compat import uuid7

DSN = os.environ.get("BENCH_FLOOR_DSN", "postgresql://postgres@127.0.0.1:5432/okr_bench_small")
POOL_SIZE = int(os.environ.get("BENCH_FLOOR_POOL", "32"))

AUTH = (
    "SELECT organization_id, id, name FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL "
    "AND (expires_at IS NULL OR expires_at > now())"
)
OBJ_COLS = "id, team_id, title, description, owner, kind, state, health, progress_mode, created_at"
OBJ_SUBTREE = (
    f"SELECT {OBJ_COLS} FROM objectives WHERE organization_id = $1 AND cycle_id = $2 "
    "AND team_id = ANY($3::uuid[]) ORDER BY id"
)
OBJ_TREE = (
    "WITH RECURSIVE subtree AS (SELECT id FROM teams WHERE organization_id = $1 AND id = $3 "
    "UNION ALL SELECT t.id FROM teams t JOIN subtree s ON t.parent_id = s.id WHERE t.organization_id = $1) "
    f"SELECT {OBJ_COLS} FROM objectives WHERE organization_id = $1 AND cycle_id = $2 "
    "AND team_id IN (SELECT id FROM subtree) ORDER BY id LIMIT 100"
)
OBJ_PAGE = f"SELECT {OBJ_COLS} FROM objectives WHERE organization_id = $1 AND cycle_id = $2 ORDER BY id LIMIT $3"
KRS = (
    "SELECT id, objective_id, title, metric, unit, direction, start_value, target_value, "
    "current_value, weight, confidence, health FROM key_results "
    "WHERE organization_id = $1 AND objective_id = ANY($2::uuid[]) ORDER BY id"
)
LATEST = (
    "SELECT DISTINCT ON (key_result_id) key_result_id, id, value, health, confidence, note, "
    "checked_at FROM check_ins WHERE organization_id = $1 AND key_result_id = ANY($2::uuid[]) "
    "ORDER BY key_result_id, checked_at DESC, id DESC"
)
LINKS = (
    "SELECT l.key_result_id, l.expected_impact, i.id, i.title, i.status, i.impact, "
    "i.confidence, i.ease FROM initiative_key_results l JOIN initiatives i "
    "ON i.organization_id = l.organization_id AND i.id = l.initiative_id "
    "WHERE l.organization_id = $1 AND l.key_result_id = ANY($2::uuid[]) ORDER BY l.id"
)
ALIGN = (
    "SELECT a.source_objective_id, o.id AS oid, o.title AS otitle, k.id AS kid, k.title AS ktitle "
    "FROM alignment_links a "
    "LEFT JOIN objectives o ON o.organization_id = a.organization_id AND o.id = a.target_objective_id "
    "LEFT JOIN key_results k ON k.organization_id = a.organization_id AND k.id = a.target_key_result_id "
    "WHERE a.organization_id = $1 AND a.source_objective_id = ANY($2::uuid[]) "
    "AND a.kind = 'CONTRIBUTES_TO' ORDER BY a.id"
)
NODE = (
    "SELECT id, title, description, owner, kind, state, health, progress_mode, version, "
    "created_at, updated_at FROM objectives WHERE organization_id = $1 AND id = $2"
)
LOCK_KR = (
    "SELECT k.id, k.current_value, k.health, k.confidence, k.version, c.state AS cycle_state "
    "FROM key_results k JOIN objectives o ON o.organization_id = k.organization_id "
    "AND o.id = k.objective_id JOIN cycles c ON c.organization_id = o.organization_id "
    "AND c.id = o.cycle_id WHERE k.organization_id = $1 AND k.id = $2 FOR UPDATE OF k"
)
INSERT_CHECK_IN = (
    "INSERT INTO check_ins (id, organization_id, key_result_id, value, health, confidence, note, "
    "author, checked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING created_at"
)
UPDATE_KR = (
    "UPDATE key_results SET current_value = $3, health = coalesce($4, health), "
    "confidence = coalesce($5, confidence), version = version + 1, updated_at = now() "
    "WHERE organization_id = $1 AND id = $2 RETURNING id, current_value, health, confidence, version"
)
INSERT_EVENT = (
    "INSERT INTO events (id, organization_id, type, subject_type, subject_id, sequence, "
    "occurred_at, actor, data) VALUES ($1, $2, 'key_result.checked_in', 'KeyResult', $3, "
    "(SELECT coalesce(max(sequence), 0) + 1 FROM events WHERE organization_id = $2 "
    "AND subject_id = $3), $4, $5::jsonb, $6::jsonb)"
)


def gid(type_name: str, id_: UUID) -> str:
    return base64.b64encode(f"{type_name}:{id_}".encode()).decode()


def ungid(value: str) -> UUID:
    return UUID(base64.b64decode(value).decode().split(":", 1)[1])


def num(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def error(status: int, message: str) -> Response:
    return Response(orjson.dumps({"errors": [{"message": message}]}), status, media_type="application/json")


async def authenticate(connection: asyncpg.Connection, request: Request) -> asyncpg.Record | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return await connection.fetchrow(AUTH, hashlib.sha256(token.strip().encode()).hexdigest())


async def objectives_tree(
    connection: asyncpg.Connection, org: UUID, rows: list[asyncpg.Record]
) -> list[dict[str, Any]]:
    """Objective nodes with key results, latest check-in, initiative links and alignment."""
    ids = [r["id"] for r in rows]
    krs = await connection.fetch(KRS, org, ids)
    kr_ids = [k["id"] for k in krs]
    latest = {r["key_result_id"]: r for r in await connection.fetch(LATEST, org, kr_ids)}
    links: dict[UUID, list[dict[str, Any]]] = {}
    for r in await connection.fetch(LINKS, org, kr_ids):
        links.setdefault(r["key_result_id"], []).append(
            {
                "expectedImpact": num(r["expected_impact"]),
                "initiative": {
                    "id": gid("Initiative", r["id"]),
                    "title": r["title"],
                    "status": r["status"],
                    "impact": r["impact"],
                    "confidence": r["confidence"],
                    "ease": r["ease"],
                },
            }
        )
    aligned: dict[UUID, list[dict[str, Any]]] = {}
    for r in await connection.fetch(ALIGN, org, ids):
        target = (
            {"__typename": "Objective", "id": gid("Objective", r["oid"]), "title": r["otitle"]}
            if r["oid"] is not None
            else {"__typename": "KeyResult", "id": gid("KeyResult", r["kid"]), "title": r["ktitle"]}
        )
        aligned.setdefault(r["source_objective_id"], []).append(target)
    by_objective: dict[UUID, list[dict[str, Any]]] = {}
    for k in krs:
        c = latest.get(k["id"])
        by_objective.setdefault(k["objective_id"], []).append(
            {
                "id": gid("KeyResult", k["id"]),
                "title": k["title"],
                "metric": k["metric"],
                "unit": k["unit"],
                "direction": k["direction"],
                "startValue": num(k["start_value"]),
                "targetValue": float(k["target_value"]),
                "currentValue": num(k["current_value"]),
                "weight": float(k["weight"]),
                "confidence": num(k["confidence"]),
                "health": k["health"],
                "latestCheckIn": None
                if c is None
                else {
                    "id": gid("CheckIn", c["id"]),
                    "value": float(c["value"]),
                    "health": c["health"],
                    "confidence": num(c["confidence"]),
                    "note": c["note"],
                    "checkedAt": c["checked_at"],
                },
                "initiativeLinks": links.get(k["id"], []),
            }
        )
    return [
        {
            "id": gid("Objective", r["id"]),
            "title": r["title"],
            "description": r["description"],
            "owner": r["owner"],
            "kind": r["kind"],
            "state": r["state"],
            "health": r["health"],
            "progressMode": r["progress_mode"],
            "createdAt": r["created_at"],
            "keyResults": by_objective.get(r["id"], []),
            "contributesTo": aligned.get(r["id"], []),
        }
        for r in rows
    ]


async def w1_subtree(connection: asyncpg.Connection, org: UUID, variables: dict[str, Any]) -> dict[str, Any]:
    cycle = ungid(variables["cycle"])
    aliases = {name: ungid(value) for name, value in variables.items() if name != "cycle"}
    rows = await connection.fetch(OBJ_SUBTREE, org, cycle, list(aliases.values()))
    nodes = await objectives_tree(connection, org, rows)
    by_team: dict[UUID, list[dict[str, Any]]] = {}
    for row, node in zip(rows, nodes, strict=True):
        by_team.setdefault(row["team_id"], []).append({"node": node})
    return {name: {"edges": by_team.get(team, [])[:100]} for name, team in aliases.items()}


async def w1_tree(connection: asyncpg.Connection, org: UUID, variables: dict[str, Any]) -> dict[str, Any]:
    rows = await connection.fetch(OBJ_TREE, org, ungid(variables["cycle"]), ungid(variables["team"]))
    nodes = await objectives_tree(connection, org, rows)
    return {"objectives": {"edges": [{"node": node} for node in nodes]}}


async def w1_page(connection: asyncpg.Connection, org: UUID, variables: dict[str, Any]) -> dict[str, Any]:
    first = int(variables["first"])
    rows = await connection.fetch(OBJ_PAGE, org, ungid(variables["cycle"]), first + 1)
    has_next = len(rows) > first
    rows = rows[:first]
    nodes = await objectives_tree(connection, org, rows)
    end = base64.b64encode(f"cursor:{rows[-1]['id']}".encode()).decode() if rows else None
    return {
        "objectives": {
            "pageInfo": {"hasNextPage": has_next, "endCursor": end},
            "edges": [{"node": node} for node in nodes],
        }
    }


async def w4(connection: asyncpg.Connection, org: UUID, variables: dict[str, Any]) -> dict[str, Any]:
    r = await connection.fetchrow(NODE, org, ungid(variables["id"]))
    if r is None:
        return {"node": None}
    return {
        "node": {
            "id": gid("Objective", r["id"]),
            "title": r["title"],
            "description": r["description"],
            "owner": r["owner"],
            "kind": r["kind"],
            "state": r["state"],
            "health": r["health"],
            "progressMode": r["progress_mode"],
            "version": r["version"],
            "createdAt": r["created_at"],
            "updatedAt": r["updated_at"],
        }
    }


async def w2(connection: asyncpg.Connection, key: asyncpg.Record, variables: dict[str, Any]) -> dict[str, Any]:
    """recordCheckIn: lock the key result, append the check-in, move the KR, write the event."""
    data = variables["input"]
    org = key["organization_id"]
    kr_id = ungid(data["keyResultId"])
    value = Decimal(str(data["value"]))
    confidence = None if data.get("confidence") is None else Decimal(str(data["confidence"]))
    health = data.get("health")
    now = datetime.now(UTC)
    check_in_id = uuid7()
    async with connection.transaction():
        before = await connection.fetchrow(LOCK_KR, org, kr_id)
        if before is None or before["cycle_state"] == "CLOSED":
            return {
                "recordCheckIn": {
                    "userErrors": [
                        {
                            "field": ["input", "keyResultId"],
                            "message": "Not found.",
                            "code": "NOT_FOUND",
                        }
                    ],
                    "checkIn": None,
                    "keyResult": None,
                }
            }
        await connection.fetchval(
            INSERT_CHECK_IN,
            check_in_id,
            org,
            kr_id,
            value,
            health,
            confidence,
            data.get("note"),
            key["name"],
            now,
        )
        after = await connection.fetchrow(UPDATE_KR, org, kr_id, value, health, confidence)
        check_in = {
            "id": gid("CheckIn", check_in_id),
            "value": float(value),
            "health": health,
            "confidence": num(confidence),
            "note": data.get("note"),
            "checkedAt": now,
        }
        changes = {"currentValue": {"from": num(before["current_value"]), "to": float(value)}}
        if confidence is not None and before["confidence"] != confidence:
            changes["confidence"] = {"from": num(before["confidence"]), "to": float(confidence)}
        state = {
            "id": gid("KeyResult", kr_id),
            "typename": "KeyResult",
            "currentValue": float(value),
            "health": after["health"],
            "confidence": num(after["confidence"]),
            "version": after["version"],
            "checkIn": check_in,
        }
        await connection.execute(
            INSERT_EVENT,
            uuid7(),
            org,
            kr_id,
            now,
            orjson.dumps({"type": "api_key", "id": str(key["id"]), "name": key["name"]}).decode(),
            orjson.dumps({"object": state, "changes": changes}).decode(),
        )
    return {
        "recordCheckIn": {
            "userErrors": [],
            "checkIn": check_in,
            "keyResult": {
                "id": gid("KeyResult", kr_id),
                "currentValue": float(value),
                "health": after["health"],
                "confidence": num(after["confidence"]),
                "version": after["version"],
            },
        }
    }


READS = {"W1Tree": w1_tree, "W1Subtree": w1_subtree, "W1Page": w1_page, "W4": w4}


async def graphql(request: Request) -> Response:
    payload = orjson.loads(await request.body())
    operation = payload.get("operationName")
    variables = payload.get("variables") or {}
    pool: asyncpg.Pool = request.app.state.pool
    async with pool.acquire() as connection:
        key = await authenticate(connection, request)
        if key is None:
            return error(401, "Unknown, expired or revoked API key.")
        if operation == "W2":
            data = await w2(connection, key, variables)
        elif operation in READS:
            data = await READS[operation](connection, key["organization_id"], variables)
        else:
            return error(400, f"Unknown operation {operation!r}")
    return Response(orjson.dumps({"data": data}), media_type="application/json")


async def healthz(_: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


async def no_reset(_: asyncpg.Connection) -> None:
    """Skip asyncpg's reset-on-release (a round trip of several statements per request)."""


@asynccontextmanager
async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
    app.state.pool = await asyncpg.create_pool(
        DSN,
        min_size=POOL_SIZE,
        max_size=POOL_SIZE,
        reset=no_reset,
        server_settings={"application_name": "okr-bench-floor"},
    )
    gc.collect()
    gc.freeze()
    yield
    await app.state.pool.close()


app = Starlette(
    routes=[Route("/graphql", graphql, methods=["POST"]), Route("/healthz", healthz)],
    lifespan=lifespan,
)
