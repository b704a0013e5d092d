"""Integrations driven over HTTP: admin calls through GraphQL, deliveries through the
inbound route, outbound events through a real receiver (the webhooks tests' fixtures)."""

from typing import Any

import httpx

from tests import factories
from tests.conftest import Api
from tests.integrations.payloads import Delivery
from tests.webhooks.conftest import (  # noqa: F401 - fixtures shared with the webhooks tests
    local_endpoints_allowed,
    receiver,
    start_worker,
    worker,
)

INTEGRATION_FIELDS = (
    "id provider name receivePath statusMapping effectiveStatusMapping team { id } "
    "previousSecretExpiresAt"
)
DELIVERY_FIELDS = (
    "outcome reason detail httpStatus providerDeliveryId eventName objectKey providerState "
    "providerUpdatedAt status initiatives { id status } integration { id }"
)


async def create_integration(api: Api, provider: str, **fields: Any) -> dict[str, Any]:
    """A new integration (its fields) with its `secret`."""
    payload = await api.mutate(
        "createIntegration",
        {"provider": provider.upper(), "name": f"{provider} roadmap", **fields},
        f"integration {{ {INTEGRATION_FIELDS} }} secret",
    )
    assert payload["userErrors"] == [], payload["userErrors"]
    integration: dict[str, Any] = payload["integration"]
    return {**integration, "secret": payload["secret"]}


async def send(
    http: httpx.AsyncClient, integration: dict[str, Any], delivery: Delivery
) -> httpx.Response:
    return await http.post(
        integration["receivePath"], content=delivery.body, headers=delivery.headers
    )


async def linked_initiative(api: Api, system: str, key: str, team_id: str | None = None) -> str:
    team_id = team_id or await factories.team(api)
    return await factories.initiative(
        api,
        team_id,
        status="PLANNED",
        externalRef={"system": system, "key": key, "url": "https://roadmap.example/item"},
    )


async def initiative_state(api: Api, initiative_id: str) -> dict[str, Any]:
    data = await api.query(
        "query($id: ID!) { node(id: $id) { ... on Initiative { status version } } }",
        {"id": initiative_id},
    )
    node: dict[str, Any] = data["node"]
    return node


async def delivery_log(api: Api, integration_id: str | None = None) -> list[dict[str, Any]]:
    data = await api.query(
        f"query($id: ID) {{ integrationDeliveries(integrationId: $id, first: 100) "
        f"{{ edges {{ node {{ {DELIVERY_FIELDS} }} }} }} }}",
        {"id": integration_id},
    )
    return [edge["node"] for edge in data["integrationDeliveries"]["edges"]]


async def status_events(api: Api) -> list[dict[str, Any]]:
    data = await api.query(
        '{ events(types: ["initiative.status_changed"], first: 100) '
        "{ edges { node { subjectId actor changes } } } }"
    )
    return [edge["node"] for edge in data["events"]["edges"]]
