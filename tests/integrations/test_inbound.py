"""Per provider: a signed status change moves the initiative (and is heard outside), a bad
signature is refused, a replay changes nothing, an older delivery never rolls back, and
another organization's integration cannot touch this one's initiatives."""

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from okr_service.webhooks.worker import DeliveryWorker
from tests.conftest import Api
from tests.integrations.conftest import (
    create_integration,
    delivery_log,
    initiative_state,
    linked_initiative,
    send,
    status_events,
)
from tests.integrations.payloads import TOOLS, at
from tests.webhooks.conftest import Receiver, create_endpoint

PROVIDERS = pytest.mark.parametrize("provider", sorted(TOOLS))


@PROVIDERS
async def test_a_signed_status_change_moves_the_initiative_and_is_announced(
    provider: str, api: Api, http: httpx.AsyncClient, receiver: Receiver, worker: DeliveryWorker
) -> None:
    tool = TOOLS[provider]
    _, outbound_secret = await create_endpoint(
        api, receiver.url, eventTypes=["initiative.status_changed"]
    )
    initiative = await linked_initiative(api, provider.title(), tool.key.lower())
    integration = await create_integration(api, provider)

    response = await send(http, integration, tool.change(integration["secret"], "done", at(9)))

    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "applied"
    assert await initiative_state(api, initiative) == {"status": "DONE", "version": 2}
    [request] = await receiver.wait_for(1)
    body = Webhook(outbound_secret).verify(request.body, request.headers)
    assert body["type"] == "initiative.status_changed"
    assert body["data"]["object"]["id"] == initiative
    assert body["data"]["changes"] == {"status": {"from": "PLANNED", "to": "DONE"}}
    assert body["data"]["actor"] == {
        "type": "integration",
        "id": integration["id"],  # its global ID: node(id:) finds it
        "name": f"{provider} roadmap",
    }
    [logged] = await delivery_log(api, integration["id"])
    assert logged["outcome"] == "APPLIED"
    assert logged["status"] == "DONE"
    assert logged["initiatives"] == [{"id": initiative, "status": "DONE"}]
    assert logged["objectKey"].lower() == tool.key.lower()


@PROVIDERS
async def test_a_bad_or_missing_signature_is_refused_and_recorded(
    provider: str, api: Api, http: httpx.AsyncClient
) -> None:
    tool = TOOLS[provider]
    initiative = await linked_initiative(api, provider, tool.key)
    integration = await create_integration(api, provider)
    forged = tool.change("not-the-secret-at-all", "done", at(9))
    unsigned = tool.change(integration["secret"], "done", at(9))
    signature_header = next(name for name in unsigned.headers if "ignature" in name)
    headers = {name: value for name, value in unsigned.headers.items() if "ignature" not in name}
    tampered = tool.change(integration["secret"], "done", at(9))

    assert (await send(http, integration, forged)).status_code == 401
    missing = await http.post(integration["receivePath"], content=unsigned.body, headers=headers)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "MISSING_SIGNATURE"
    body = tampered.body.replace(b"Interactive", b"Hostile")
    changed = await http.post(integration["receivePath"], content=body, headers=tampered.headers)
    assert changed.json()["error"]["code"] == "INVALID_SIGNATURE"

    assert await initiative_state(api, initiative) == {"status": "PLANNED", "version": 1}
    assert await status_events(api) == []
    log = await delivery_log(api, integration["id"])
    assert [(row["outcome"], row["reason"], row["httpStatus"]) for row in log] == [
        ("REJECTED", "INVALID_SIGNATURE", 401),
        ("REJECTED", "MISSING_SIGNATURE", 401),
        ("REJECTED", "INVALID_SIGNATURE", 401),
    ]
    assert signature_header  # the header the provider documents was the one left out


@PROVIDERS
async def test_a_replay_changes_nothing(provider: str, api: Api, http: httpx.AsyncClient) -> None:
    tool = TOOLS[provider]
    initiative = await linked_initiative(api, provider, tool.key)
    integration = await create_integration(api, provider)
    delivery = tool.change(integration["secret"], "done", at(9))

    first = await send(http, integration, delivery)
    await api.ok("updateInitiative", {"id": initiative, "status": "PARKED"})  # a person's word
    replayed = await send(http, integration, delivery)

    assert first.json()["outcome"] == "applied"
    assert replayed.status_code == 200
    assert replayed.json() == {
        "outcome": "duplicate",
        "reason": "DUPLICATE",
        "message": "Already received: nothing changed.",
    }
    assert await initiative_state(api, initiative) == {"status": "PARKED", "version": 3}
    assert [event["changes"]["status"]["to"] for event in await status_events(api)] == [
        "DONE",
        "PARKED",
    ]
    assert len(await delivery_log(api, integration["id"])) == 1


@PROVIDERS
async def test_an_older_delivery_arriving_late_never_rolls_back(
    provider: str, api: Api, http: httpx.AsyncClient
) -> None:
    tool = TOOLS[provider]
    initiative = await linked_initiative(api, provider, tool.key)
    integration = await create_integration(api, provider)
    newer = tool.change(integration["secret"], "done", at(10))
    older = tool.change(integration["secret"], "in_progress", at(9))

    assert (await send(http, integration, newer)).json()["outcome"] == "applied"
    late = await send(http, integration, older)

    assert late.status_code == 200
    assert late.json()["reason"] == "OUT_OF_ORDER"
    assert await initiative_state(api, initiative) == {"status": "DONE", "version": 2}
    # A newer one still applies.
    again = await send(http, integration, tool.change(integration["secret"], "in_progress", at(11)))
    assert again.json()["outcome"] == "applied"
    assert (await initiative_state(api, initiative))["status"] == "IN_PROGRESS"


@PROVIDERS
async def test_another_organizations_integration_cannot_touch_these_initiatives(
    provider: str, api: Api, other_api: Api, http: httpx.AsyncClient
) -> None:
    tool = TOOLS[provider]
    mine = await linked_initiative(api, provider, tool.key)
    my_integration = await create_integration(api, provider)
    theirs = await create_integration(other_api, provider)

    # Their own secret, their integration: only their organization is searched.
    response = await send(http, theirs, tool.change(theirs["secret"], "done", at(9)))
    assert response.status_code == 202
    assert response.json()["reason"] == "UNKNOWN_OBJECT"
    # My secret on their integration's URL: refused, recorded on theirs only.
    crossed = await send(http, theirs, tool.change(my_integration["secret"], "done", at(9)))
    assert crossed.status_code == 401

    assert await initiative_state(api, mine) == {"status": "PLANNED", "version": 1}
    assert await delivery_log(api) == []
    assert [row["reason"] for row in await delivery_log(other_api)] == [
        "UNKNOWN_OBJECT",
        "INVALID_SIGNATURE",
    ]
    # Their admin cannot list or reach my integration either.
    assert await delivery_log(other_api, my_integration["id"]) == []
    node = await other_api.query(
        "query($id: ID!) { node(id: $id) { id } }", {"id": my_integration["id"]}
    )
    assert node["node"] is None


@PROVIDERS
async def test_an_object_no_initiative_refers_to_is_accepted_and_ignored(
    provider: str, api: Api, http: httpx.AsyncClient
) -> None:
    tool = TOOLS[provider]
    integration = await create_integration(api, provider)

    response = await send(http, integration, tool.change(integration["secret"], "done", at(9)))

    assert response.status_code == 202
    [logged] = await delivery_log(api, integration["id"])
    assert (logged["outcome"], logged["reason"], logged["httpStatus"]) == (
        "IGNORED",
        "UNKNOWN_OBJECT",
        202,
    )
