"""Helpers shared by the API tests: global IDs, database fingerprints, events, refusals."""

import base64
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from okr_service.events.models import Event
from tests import factories
from tests.conftest import OBJECT_FIELDS, Api

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
                    "SELECT count(*) || ':' || "
                    "md5(coalesce(string_agg(t::text, ',' ORDER BY id), ''))"
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


async def close_cycle(api: Api, cycle_id: str) -> None:
    """Close a cycle the way clients do (scores frozen, objectives closed)."""
    data = await api.query(
        "mutation($input: CloseCycleInput!) { closeCycle(input: $input) { userErrors { code } } }",
        {"input": {"cycleId": cycle_id}},
    )
    assert data["closeCycle"]["userErrors"] == []


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


async def world(api: Api) -> dict[str, str]:
    """One of everything: a team, cycle, two objectives, a KR, a linked initiative, a link."""
    ids = await factories.okr(api)
    ids["objective2"] = await factories.objective(api, ids["team"], ids["cycle"], "Second")
    ids["initiative"] = await factories.initiative(api, ids["team"])
    await api.ok(
        "linkInitiative", {"initiativeId": ids["initiative"], "keyResultId": ids["key_result"]}
    )
    payload = await api.ok(
        "createAlignment",
        {"sourceObjectiveId": ids["objective2"], "targetObjectiveId": ids["objective"]},
    )
    ids["alignment"] = payload["alignment"]["id"]
    return ids


def mutation_inputs(ids: dict[str, str]) -> dict[str, dict[str, Any]]:
    """A valid input for every mutation, referring to `ids` (as made by `world`)."""
    return {
        "createTeam": {"name": "New", "parentId": ids["team"]},
        "updateTeam": {"id": ids["team"], "name": "Renamed"},
        "createCycle": {
            "name": "Feb",
            "startsOn": "2026-02-01",
            "endsOn": "2026-02-28",
            "parentId": ids["cycle"],
        },
        "updateCycle": {"id": ids["cycle"], "name": "Renamed"},
        "createObjective": {"title": "New", "teamId": ids["team"], "cycleId": ids["cycle"]},
        "updateObjective": {"id": ids["objective"], "title": "Renamed"},
        "deleteObjective": {"id": ids["objective"]},
        "createKeyResult": {"objectiveId": ids["objective"], "title": "New", "targetValue": 5},
        "updateKeyResult": {"id": ids["key_result"], "title": "Renamed"},
        "deleteKeyResult": {"id": ids["key_result"]},
        "recordCheckIn": {"keyResultId": ids["key_result"], "value": 12},
        "createInitiative": {"title": "New", "teamId": ids["team"]},
        "updateInitiative": {"id": ids["initiative"], "title": "Renamed"},
        "linkInitiative": {"initiativeId": ids["initiative"], "keyResultId": ids["key_result"]},
        "unlinkInitiative": {"initiativeId": ids["initiative"], "keyResultId": ids["key_result"]},
        "createAlignment": {
            "sourceObjectiveId": ids["objective"],
            "kind": "RELATES_TO",
            "targetObjectiveId": ids["objective2"],
        },
        "deleteAlignment": {"id": ids["alignment"]},
    }


MUTATIONS = list(OBJECT_FIELDS)
