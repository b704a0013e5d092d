"""Every change has its event: each mutation of the schema, run on a world with one of
everything, tells every object it created, changed or deleted, and the last event of each
object shows exactly the object as stored."""

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from okr_service.events.catalog import CATALOG, EventType
from okr_service.events.metadata import model_of
from okr_service.events.models import Event
from okr_service.events.service import snapshot
from okr_service.graphql.schema import schema
from okr_service.integrations.models import Integration
from okr_service.integrations.service import public_state as integration_state
from okr_service.kit.db import transaction
from okr_service.webhooks.models import WebhookEndpoint
from okr_service.webhooks.service import disable_endpoint, public_state
from tests import factories
from tests.conftest import Api
from tests.graphql.support import close_cycle, mutation_inputs, uuid_of, world
from tests.webhooks.conftest import settings_changed

# Tables of told objects, and which column names the object a row's change is told about
# (a check-in is told as its key result's `checked_in`, a link as its initiative's).
TOLD_TABLES = {
    "teams": "id",
    "cycles": "id",
    "objectives": "id",
    "key_results": "id",
    "check_ins": "key_result_id",
    "initiatives": "id",
    "initiative_key_results": "initiative_id",
    "alignment_links": "id",
    "api_keys": "id",
    "webhook_endpoints": "id",
    "integrations": "id",
}
# Writes that are no object's change: redelivering writes a delivery (the webhook log).
NO_OBJECT_CHANGE = {"redeliverWebhookEvent"}
# Mutations the event stream does not cover yet, and why (each one an open item).
NOT_TOLD_YET: dict[str, str] = {}
# Events about no stored change: a test delivery.
NO_ROW_CHANGE = {EventType.WEBHOOK_TEST.value}
# Changes with the others, never alone.
UNSHOWN = {"updated_at"}


def schema_mutations() -> list[str]:
    """Every mutation of the schema, but those declared not told yet."""
    mutation_type = schema._schema.mutation_type
    assert mutation_type is not None
    return sorted(set(mutation_type.fields) - set(NOT_TOLD_YET))


@pytest.fixture(autouse=True)
def local_endpoints_allowed(app: FastAPI) -> Iterator[None]:
    with settings_changed(app, webhook_allowed_cidrs="127.0.0.1/32", webhook_allow_http=True):
        yield


async def full_world(app: FastAPI, api: Api) -> dict[str, str]:
    """`world`, plus a second cycle, an API key, a check-in, an endpoint and a test event
    sent to it, and a disabled endpoint."""
    ids = await world(api)
    ids["cycle2"] = await factories.cycle(api, "Q2", "2026-04-01", "2026-06-30")
    payload = await api.mutate(
        "createApiKey", {"name": "ci", "scopes": ["READ"]}, "apiKey { id } secret"
    )
    ids["api_key"] = payload["apiKey"]["id"]
    payload = await api.mutate(
        "createWebhookEndpoint", {"url": "http://127.0.0.1:9/hooks"}, "webhookEndpoint { id }"
    )
    ids["endpoint"] = payload["webhookEndpoint"]["id"]
    await api.ok("recordCheckIn", {"keyResultId": ids["key_result"], "value": 11})
    payload = await api.mutate("sendTestWebhook", {"endpointId": ids["endpoint"]}, "event { id }")
    ids["event"] = payload["event"]["id"]
    payload = await api.mutate(
        "createWebhookEndpoint", {"url": "http://127.0.0.1:9/gone"}, "webhookEndpoint { id }"
    )
    ids["disabled"] = payload["webhookEndpoint"]["id"]
    async with transaction(app.state.sessionmaker) as db:  # as after a 410 Gone
        await disable_endpoint(db, api.organization_id, uuid_of(ids["disabled"]), "Gone.")
    payload = await api.mutate(
        "createIntegration", {"provider": "LINEAR", "name": "Linear"}, "integration { id }"
    )
    ids["integration"] = payload["integration"]["id"]
    return ids


def inputs(ids: dict[str, str]) -> dict[str, dict[str, Any]]:
    return mutation_inputs(ids) | {
        "linkInitiative": {
            "initiativeId": ids["initiative"],
            "keyResultId": ids["key_result"],
            "expectedImpact": 0.5,
        },
        "closeCycle": {"cycleId": ids["cycle"]},
        "carryOverObjectives": {"fromCycleId": ids["cycle"], "toCycleId": ids["cycle2"]},
        "createApiKey": {"name": "bot", "scopes": ["WRITE"]},
        "revokeApiKey": {"id": ids["api_key"]},
        "createWebhookEndpoint": {"url": "http://127.0.0.1:9/new", "description": "new"},
        "updateWebhookEndpoint": {"id": ids["endpoint"], "description": "changed"},
        "deleteWebhookEndpoint": {"id": ids["endpoint"]},
        "enableWebhookEndpoint": {"id": ids["disabled"]},
        "rotateWebhookSecret": {"id": ids["endpoint"], "gracePeriodSeconds": 60},
        "sendTestWebhook": {"endpointId": ids["endpoint"]},
        "redeliverWebhookEvent": {"eventId": ids["event"], "endpointId": ids["endpoint"]},
        "createIntegration": {"provider": "JIRA", "name": "Jira", "teamId": ids["team"]},
        "updateIntegration": {"id": ids["integration"], "name": "Linear (product)"},
        "deleteIntegration": {"id": ids["integration"]},
        "rotateIntegrationSecret": {"id": ids["integration"], "gracePeriodSeconds": 60},
    }


async def run(api: Api, name: str, input_: dict[str, Any]) -> None:
    data = await api.query(
        f"mutation($input: {name[0].upper()}{name[1:]}Input!) "
        f"{{ {name}(input: $input) {{ userErrors {{ field code message }} }} }}",
        {"input": input_},
    )
    assert data[name]["userErrors"] == [], data[name]["userErrors"]


async def rows(engine: AsyncEngine, organization_id: UUID) -> dict[tuple[str, UUID], Any]:
    """Every told row of the organization: (table, id) -> (told subject's id, shown values)."""
    found: dict[tuple[str, UUID], Any] = {}
    async with engine.connect() as connection:
        for table, subject_column in TOLD_TABLES.items():
            result = await connection.execute(
                text(f"SELECT * FROM {table} WHERE organization_id = :org"),
                {"org": organization_id},
            )
            for row in result.mappings():
                shown = {key: value for key, value in row.items() if key not in UNSHOWN}
                found[(table, row["id"])] = (row[subject_column], shown)
    return found


async def new_events(engine: AsyncEngine, organization_id: UUID, after: int) -> list[Any]:
    async with engine.connect() as connection:
        result = await connection.execute(
            select(Event.__table__)
            .where(Event.organization_id == organization_id)
            .order_by(Event.id)
            .offset(after)
        )
        return list(result.mappings())


async def event_count(engine: AsyncEngine, organization_id: UUID) -> int:
    return len(await new_events(engine, organization_id, 0))


def changed_subjects(
    before: dict[tuple[str, UUID], Any], after: dict[tuple[str, UUID], Any]
) -> set[UUID]:
    """The told objects whose rows appeared, changed or disappeared."""
    return {
        (after.get(key) or before[key])[0]
        for key in before.keys() | after.keys()
        if before.get(key) != after.get(key)
    }


async def stored_state(app: FastAPI, subject_type: str, subject_id: UUID) -> Any:
    """The object as an event shows it now, or None when it is gone."""
    model = model_of(subject_type)
    async with transaction(app.state.sessionmaker) as db:
        found = await db.get(model, subject_id)
        if found is None:
            return None
        if isinstance(found, WebhookEndpoint):
            return public_state(found)
        if isinstance(found, Integration):
            return integration_state(found)
        return snapshot(found, subject_type)


def test_the_walk_knows_every_mutation() -> None:
    """A new mutation needs an input here: the walk is how it proves its events."""
    ids = dict.fromkeys(("team", "cycle", "cycle2", "objective", "objective2"), "x")
    ids |= dict.fromkeys(("key_result", "initiative", "alignment", "api_key"), "x")
    ids |= {"endpoint": "x", "event": "x", "disabled": "x", "integration": "x"}
    missing = set(schema_mutations()) - set(inputs(ids))
    assert missing == set(), f"give these mutations an input in {__name__}: {missing}"


@pytest.mark.parametrize("name", schema_mutations())
async def test_each_mutation_tells_every_object_it_changes(
    app: FastAPI, api: Api, engine: AsyncEngine, name: str
) -> None:
    ids = await full_world(app, api)
    before = await rows(engine, api.organization_id)
    seen = await event_count(engine, api.organization_id)

    await run(api, name, inputs(ids)[name])

    after = await rows(engine, api.organization_id)
    events = await new_events(engine, api.organization_id, seen)
    changed = changed_subjects(before, after)
    told = {event["subject_id"] for event in events if event["type"] not in NO_ROW_CHANGE}
    if name in NO_OBJECT_CHANGE:
        assert (changed, events) == (set(), [])
        return
    assert events, f"{name} wrote no event"
    assert changed == told, f"{name}: changed {changed}, told {told}"
    for event in events:
        assert EventType(event["type"]) in CATALOG
        assert event["subject_type"] == CATALOG[EventType(event["type"])].subject_type
    last: dict[UUID, Any] = {event["subject_id"]: event for event in events}
    for subject_id, event in last.items():
        shown = {k: v for k, v in event["data"]["object"].items() if k != "checkIn"}
        stored = await stored_state(app, event["subject_type"], subject_id)
        if event["type"].endswith(".deleted"):
            assert stored is None
        else:
            assert shown == stored, f"{name}: {event['type']} of {subject_id} is stale"


async def test_close_cycle_tells_each_frozen_score(api: Api, engine: AsyncEngine) -> None:
    ids = await factories.okr(api)
    second = await factories.key_result(api, ids["objective"], "Second", 0, 10)
    await api.ok("recordCheckIn", {"keyResultId": second, "value": 5})
    seen = await event_count(engine, api.organization_id)

    await close_cycle(api, ids["cycle"])

    scored = {
        event["subject_id"]: event
        for event in await new_events(engine, api.organization_id, seen)
        if event["type"] == "key_result.scored"
    }
    assert set(scored) == {uuid_of(ids["key_result"]), uuid_of(second)}
    half = scored[uuid_of(second)]["data"]
    assert half["changes"] == {"finalScore": {"from": None, "to": 0.5}}
    assert half["object"]["finalScore"] == 0.5


async def test_deleting_an_objective_tells_everything_deleted_with_it(
    api: Api, engine: AsyncEngine
) -> None:
    ids = await world(api)  # the key result has an initiative; `objective2` aligns to it
    seen = await event_count(engine, api.organization_id)

    await api.ok("deleteObjective", {"id": ids["objective"]})

    told = [
        (event["type"], event["subject_id"])
        for event in await new_events(engine, api.organization_id, seen)
    ]
    assert sorted(told) == sorted(
        [
            ("objective.deleted", uuid_of(ids["objective"])),
            ("key_result.deleted", uuid_of(ids["key_result"])),
            ("initiative.unlinked", uuid_of(ids["initiative"])),
            ("alignment.deleted", uuid_of(ids["alignment"])),
        ]
    )
