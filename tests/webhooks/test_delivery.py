"""Deliveries reach a real receiver, signed so that `standardwebhooks` verifies them."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from okr_service.auth.service import authenticate
from okr_service.objectives.service import update_objective
from okr_service.okr.enums import ObjectiveState
from okr_service.webhooks.models import WebhookDelivery
from okr_service.webhooks.worker import DeliveryWorker
from tests import factories
from tests.conftest import Api
from tests.webhooks.conftest import (
    Receiver,
    Reply,
    StartWorker,
    create_endpoint,
    deliveries,
    endpoint,
    events_of_type,
    eventually,
    finished,
    ok,
    uuid_of,
)

STATE_CHANGED = "objective.state_changed"


async def activate(api: Api, objective_id: str) -> None:
    await api.ok("updateObjective", {"id": objective_id, "state": "ACTIVE"})


async def test_a_status_change_is_delivered_and_verifies(
    api: Api, receiver: Receiver, worker: DeliveryWorker
) -> None:
    ids = await factories.okr(api)
    endpoint_id, secret = await create_endpoint(
        api, receiver.url, eventTypes=["objective.state_changed"]
    )
    await activate(api, ids["objective"])

    [request] = await receiver.wait_for(1)
    body = Webhook(secret).verify(request.body, request.headers)
    assert body["type"] == "objective.state_changed"
    assert body["data"]["changes"] == {"state": {"from": "DRAFT", "to": "ACTIVE"}}
    assert body["data"]["object"]["id"] == ids["objective"]
    assert body["data"]["object"]["teamId"] == ids["team"]
    assert body["data"]["object"]["state"] == "ACTIVE"
    assert body["data"]["actor"]["type"] == "api_key"
    [event] = await events_of_type(api, "objective.state_changed")
    assert request.headers["webhook-id"] == event["id"]
    # created, health_changed (its key result lags the past cycle), updated, state_changed
    assert body["data"]["sequence"] == event["sequence"] == 4
    [delivery] = await eventually(lambda: deliveries(api, endpoint_id), finished)
    assert delivery["status"] == "DELIVERED"
    assert delivery["attempts"][0]["statusCode"] == 200
    assert delivery["attempts"][0]["responseBody"] == "thanks"


async def test_a_receiver_failing_twice_gets_the_event_on_the_third_attempt(
    api: Api, receiver: Receiver, worker: DeliveryWorker
) -> None:
    ids = await factories.okr(api)
    endpoint_id, secret = await create_endpoint(
        api, receiver.url, eventTypes=["objective.state_changed"]
    )
    receiver.replies = [Reply(500, body=b"oops"), Reply(502)]
    await activate(api, ids["objective"])

    requests = await receiver.wait_for(3)
    assert len({request.headers["webhook-id"] for request in requests}) == 1
    assert len({request.body for request in requests}) == 1  # the same bytes every time
    for request in requests:
        Webhook(secret).verify(request.body, request.headers)
    [delivery] = await eventually(lambda: deliveries(api, endpoint_id), finished)
    assert delivery["status"] == "DELIVERED"
    assert delivery["attemptCount"] == 3
    assert [a["statusCode"] for a in delivery["attempts"]] == [500, 502, 200]
    assert delivery["attempts"][0]["responseBody"] == "oops"


async def test_a_delivery_is_dead_after_the_last_attempt_and_can_be_redelivered(
    api: Api, receiver: Receiver, worker: DeliveryWorker
) -> None:
    ids = await factories.okr(api)
    endpoint_id, _ = await create_endpoint(api, receiver.url, eventTypes=[STATE_CHANGED])
    receiver.replies = [Reply(500), Reply(500), Reply(500)]
    await activate(api, ids["objective"])

    [dead] = await eventually(lambda: deliveries(api, endpoint_id), finished)
    assert dead["status"] == "DEAD"
    assert dead["attemptCount"] == 3  # the compressed schedule has three entries
    assert dead["lastError"] == "HTTP 500"
    payload = await api.mutate(
        "redeliverWebhookEvent",
        {"eventId": dead["event"]["id"], "endpointId": endpoint_id},
        "delivery { id status }",
    )
    assert payload["userErrors"] == []
    requests = await receiver.wait_for(4)
    assert requests[3].headers["webhook-id"] == dead["event"]["id"]
    rows = await eventually(lambda: deliveries(api, endpoint_id), finished)
    assert sorted(row["status"] for row in rows) == ["DEAD", "DELIVERED"]


async def test_a_rolled_back_mutation_sends_nothing(
    api: Api, app: FastAPI, receiver: Receiver, worker: DeliveryWorker
) -> None:
    ids = await factories.okr(api)
    endpoint_id, _ = await create_endpoint(api, receiver.url)
    async with app.state.sessionmaker() as db:
        await db.begin()
        actor = await authenticate(db, api.key)
        objective_uuid = uuid_of(ids["objective"])
        await update_objective(
            db, actor, objective_uuid, {"state": ObjectiveState.CANCELLED}, datetime.now(UTC)
        )
        written = await db.scalar(
            select(func.count()).where(WebhookDelivery.endpoint_id == uuid_of(endpoint_id))
        )
        assert written == 2  # objective.updated and .state_changed, inside the transaction...
        await db.rollback()  # ...and goes with it
    await activate(api, ids["objective"])  # a committed change, as a barrier

    await eventually(lambda: deliveries(api, endpoint_id), finished)
    await asyncio.sleep(0.5)
    bodies = [request.body for request in receiver.requests]
    assert b"CANCELLED" not in b"".join(bodies)
    assert {r.headers["webhook-id"] for r in receiver.requests} == {
        row["event"]["id"] for row in await deliveries(api, endpoint_id)
    }
    assert all(b"ACTIVE" in body for body in bodies)


async def test_rotation_signs_with_both_secrets_during_the_grace_period(
    api: Api, receiver: Receiver, worker: DeliveryWorker
) -> None:
    ids = await factories.okr(api)
    endpoint_id, old = await create_endpoint(api, receiver.url, eventTypes=[STATE_CHANGED])
    payload = await ok(
        api,
        "rotateWebhookSecret",
        {"id": endpoint_id},
        "secret webhookEndpoint { previousSecretExpiresAt }",
    )
    new = payload["secret"]
    assert new != old
    assert new.startswith("whsec_")
    assert payload["webhookEndpoint"]["previousSecretExpiresAt"] is not None
    await activate(api, ids["objective"])

    [request] = await receiver.wait_for(1)
    signatures = request.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    for secret in (old, new):
        Webhook(secret).verify(request.body, request.headers)
    verified_by = [
        [secret for secret in (old, new) if _verifies(secret, request.body, request.headers, part)]
        for part in signatures
    ]
    assert verified_by == [[new], [old]]


def _verifies(secret: str, body: bytes, headers: dict[str, str], signature: str) -> bool:
    try:
        Webhook(secret).verify(body, headers | {"webhook-signature": signature})
    except Exception:
        return False
    return True


async def test_rotation_without_grace_signs_with_the_new_secret_only(
    api: Api, receiver: Receiver, worker: DeliveryWorker
) -> None:
    endpoint_id, _ = await create_endpoint(api, receiver.url)
    payload = await api.mutate(
        "rotateWebhookSecret", {"id": endpoint_id, "gracePeriodSeconds": 0}, "secret"
    )
    await ok(api, "sendTestWebhook", {"endpointId": endpoint_id}, "event { id }")
    [request] = await receiver.wait_for(1)
    assert " " not in request.headers["webhook-signature"]
    Webhook(payload["secret"]).verify(request.body, request.headers)


async def test_410_gone_disables_the_endpoint(
    api: Api, receiver: Receiver, worker: DeliveryWorker
) -> None:
    ids = await factories.okr(api)
    endpoint_id, _ = await create_endpoint(api, receiver.url)
    await create_endpoint(api, receiver.url + "/watcher", eventTypes=["webhook_endpoint.disabled"])
    receiver.replies = [Reply(410)]
    await ok(api, "sendTestWebhook", {"endpointId": endpoint_id}, "event { id }")

    state = await eventually(lambda: endpoint(api, endpoint_id), lambda e: not e["enabled"])
    assert "410" in state["disabledReason"]
    [event] = await events_of_type(api, "webhook_endpoint.disabled")
    assert event["subjectId"] == endpoint_id
    assert event["data"]["actor"]["type"] == "system"
    assert event["data"]["changes"]["enabled"] == {"from": True, "to": False}
    # Another endpoint subscribed to it hears of it.
    requests = await receiver.wait_for(2)
    assert requests[1].path == "/hooks/watcher"
    [dead] = await deliveries(api, endpoint_id)
    assert dead["status"] == "DEAD"
    await activate(api, ids["objective"])
    assert len(await deliveries(api, endpoint_id)) == 1  # no more deliveries while disabled
    errors = (await api.mutate("sendTestWebhook", {"endpointId": endpoint_id}, "event { id }"))[
        "userErrors"
    ]
    assert [error["code"] for error in errors] == ["INVALID_STATE"]

    enabled = await ok(
        api,
        "enableWebhookEndpoint",
        {"id": endpoint_id},
        "webhookEndpoint { enabled disabledReason }",
    )
    assert enabled["webhookEndpoint"] == {"enabled": True, "disabledReason": None}


async def test_retry_after_is_honoured(
    api: Api, receiver: Receiver, start_worker: StartWorker
) -> None:
    await start_worker(webhook_retry_schedule="0,0.1,0.1")
    endpoint_id, _ = await create_endpoint(api, receiver.url)
    receiver.replies = [Reply(503, headers={"retry-after": "2"})]
    await ok(api, "sendTestWebhook", {"endpointId": endpoint_id}, "event { id }")
    first, second = await receiver.wait_for(2)
    assert second.at - first.at >= 1.9


async def test_a_slow_endpoint_does_not_delay_the_others(
    api: Api, receiver_factory: Callable[[], Awaitable[Receiver]], start_worker: StartWorker
) -> None:
    await start_worker(webhook_endpoint_concurrency=1, webhook_timeout_seconds=30)
    slow, fast = await receiver_factory(), await receiver_factory()
    slow.always = Reply(stall=True)
    await create_endpoint(api, slow.url)
    await create_endpoint(api, fast.url)
    team = await factories.team(api)
    for index in range(5):
        await factories.initiative(api, team, title=f"Bet {index}")
    await fast.wait_for(6, within=5)  # the team and five initiatives
    assert len(slow.requests) == 1  # one request in flight at most, stalled


async def test_a_test_webhook_goes_to_its_endpoint_only(
    api: Api, receiver: Receiver, worker: DeliveryWorker
) -> None:
    endpoint_id, secret = await create_endpoint(api, receiver.url)
    other_id, _ = await create_endpoint(api, receiver.url + "/other")
    payload = await ok(api, "sendTestWebhook", {"endpointId": endpoint_id}, "event { id type }")
    [request] = await receiver.wait_for(1)
    body = Webhook(secret).verify(request.body, request.headers)
    assert body["type"] == "webhook.test"
    assert request.headers["webhook-id"] == payload["event"]["id"]
    assert body["data"]["object"]["id"] == endpoint_id
    assert await deliveries(api, other_id) == []
