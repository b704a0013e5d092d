"""Helpers shared by the API tests: global IDs, database fingerprints, events, refusals."""

import base64
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from service.cycles.models import Cycle
from service.events.models import Event
from tests.conftest import Api

TABLES = (
    "teams",
    "cycles",
    "objectives",
    "key_results",
    "check_ins",
    "initiatives",
    "initiative_key_results",
    "alignment_links",
    "events",
)
ANY = object()


def b64(raw: str) -> str:
    return base64.b64encode(raw.encode()).decode()


def gid(type_name: str, id_: UUID | None = None) -> str:
    """A well-formed global ID; of a row that does not exist unless `id_` is given."""
    return b64(f"{type_name}:{id_ or uuid4()}")


def uuid_of(global_id: str) -> UUID:
    return UUID(base64.b64decode(global_id).decode().split(":", 1)[1])


def malformed_ids(type_name: str) -> list[str]:
    """IDs that cannot be decoded into a `type_name` UUID."""
    return ["not-an-id", b64("garbage"), b64(f"{type_name}:not-a-uuid"), ""]


async def db_state(engine: AsyncEngine, organization_id: UUID) -> dict[str, str]:
    """A fingerprint of every row the organization owns: any write changes it."""
    state = {}
    async with engine.connect() as connection:
        for table in TABLES:
            found = await connection.scalar(
                text(
                    f"SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' ORDER BY id), ''))"
                    f" FROM {table} t WHERE organization_id = :org"
                ),
                {"org": organization_id},
            )
            state[table] = str(found)
    return state


async def events(engine: AsyncEngine, organization_id: UUID) -> list[dict[str, Any]]:
    """The organization's outbox rows, oldest first."""
    table = Event.__table__
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(table)
            .where(table.c.organization_id == organization_id)
            .order_by(table.c.occurred_at, table.c.subject_id, table.c.sequence)
        )
        return [dict(row._mapping) for row in rows]


async def close_cycle(engine: AsyncEngine, cycle_id: str) -> None:
    """No mutation closes a cycle yet: closing is done in SQL."""
    async with engine.begin() as connection:
        await connection.execute(
            update(Cycle).where(Cycle.id == uuid_of(cycle_id)).values(state="CLOSED")
        )


async def refused(
    api: Api,
    engine: AsyncEngine,
    name: str,
    input_: dict[str, Any],
    code: str,
    field: Any = ANY,
) -> list[dict[str, Any]]:
    """Mutation `name` must answer with user error `code` (at `field`) and write nothing."""
    before = await db_state(engine, api.organization_id)
    errors = await api.user_errors(name, input_)
    assert [error["code"] for error in errors] == [code], errors
    if field is not ANY:
        assert errors[0]["field"] == field, errors
    assert errors[0]["message"]
    assert await db_state(engine, api.organization_id) == before
    return errors


async def node(api: Api, id_: str, selection: str) -> Any:
    data = await api.query(f"query($id: ID!) {{ node(id: $id) {{ {selection} }} }}", {"id": id_})
    return data["node"]


def bad_ids(type_name: str, wrong_type: str) -> list[tuple[str, str]]:
    """(ID, expected code) pairs: malformed IDs, an unknown ID, and an ID of another type."""
    return [
        *((id_, "INVALID_ID") for id_ in malformed_ids(type_name)),
        (gid(type_name), "NOT_FOUND"),
        (gid(wrong_type), "NOT_FOUND"),
    ]
