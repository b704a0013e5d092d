"""The inbound route under attack: oversized, malformed and deep bodies, stale and forged
deliveries, unknown ids, floods and concurrent twins. Each is bounded, answered with a
stable code, recorded when the integration is known, and changes nothing."""

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from okr_service.app import create_app
from okr_service.kit.settings import Settings
from tests.conftest import Api, new_organization
from tests.integrations.conftest import (
    create_integration,
    delivery_log,
    initiative_state,
    linked_initiative,
    send,
    status_events,
)
from tests.integrations.payloads import (
    TOOLS,
    Delivery,
    at,
    github_delivery,
    github_issue,
    hex_hmac,
    jira_delivery,
    jira_issue,
    linear_delivery,
    linear_issue,
)
from tests.webhooks.conftest import settings_changed


def signed_github(secret: str, body: bytes, delivery_id: str = "d-1") -> Delivery:
    """Any bytes, signed as GitHub signs: what a sender holding the secret could send."""
    headers = {
        "X-GitHub-Event": "issues",
        "X-GitHub-Delivery": delivery_id,
        "X-Hub-Signature-256": "sha256=" + hex_hmac(secret, body),
    }
    return Delivery(body, headers, delivery_id)


async def test_an_oversized_body_is_refused_unread_and_recorded(
    app: FastAPI, api: Api, http: httpx.AsyncClient
) -> None:
    initiative = await linked_initiative(api, "github", "acme/onboarding#42")
    integration = await create_integration(api, "github")
    payload = github_issue("acme/onboarding", 42, "done", at(9))
    payload["issue"]["body"] = "x" * 5000
    delivery = github_delivery(integration["secret"], payload)

    with settings_changed(app, integration_max_body_bytes=4000):
        response = await send(http, integration, delivery)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert await initiative_state(api, initiative) == {"status": "PLANNED", "version": 1}
    [logged] = await delivery_log(api, integration["id"])
    assert (logged["outcome"], logged["reason"]) == ("REJECTED", "PAYLOAD_TOO_LARGE")


async def test_malformed_signed_bodies_are_400_and_recorded_never_500(
    app: FastAPI, api: Api, http: httpx.AsyncClient
) -> None:
    integration = await create_integration(api, "github")
    secret = integration["secret"]
    issue = github_issue("acme/onboarding", 42, "done", at(9))
    no_state = json.loads(json.dumps(issue))
    del no_state["issue"]["state"]
    bad_time = json.loads(json.dumps(issue))
    bad_time["issue"]["updated_at"] = "yesterday"
    bodies = [
        b"not json at all",
        b"\xff\xfe garbage",
        b"[1, 2, 3]",
        b"[" * 500 + b"]" * 500,  # deeper than OKR_MAX_JSON_DEPTH
        json.dumps(no_state).encode(),
        json.dumps(bad_time).encode(),
        json.dumps({"action": "closed", "issue": "not an object", "repository": {}}).encode(),
    ]

    answers = [
        await send(http, integration, signed_github(secret, body, f"d-{index}"))
        for index, body in enumerate(bodies)
    ]

    assert [answer.status_code for answer in answers] == [400] * len(bodies)
    assert {answer.json()["error"]["code"] for answer in answers} == {"MALFORMED_BODY"}
    log = await delivery_log(api, integration["id"])
    assert [(row["outcome"], row["reason"]) for row in log] == [
        ("REJECTED", "MALFORMED_BODY")
    ] * len(bodies)
    # Rejected deliveries do not hold their ids: the genuine one still applies.
    await linked_initiative(api, "github", "acme/onboarding#42")
    genuine = github_delivery(secret, issue, delivery_id="d-0")
    assert (await send(http, integration, genuine)).json()["outcome"] == "applied"


async def test_huge_and_nul_holding_texts_are_clipped_not_a_500(
    api: Api, http: httpx.AsyncClient
) -> None:
    integration = await create_integration(api, "github")
    payload = github_issue("acme/onboarding", 42, "done", at(9))
    payload["repository"]["full_name"] = "acme/" + "o" * 5000 + "\u0000"
    payload["action"] = "a" * 3000

    response = await send(http, integration, github_delivery(integration["secret"], payload))

    assert response.status_code == 202
    [logged] = await delivery_log(api, integration["id"])
    assert logged["reason"] == "UNKNOWN_OBJECT"
    assert len(logged["objectKey"]) == 200
    assert "\x00" not in logged["objectKey"]
    assert len(logged["eventName"]) == 100


async def test_a_delivery_without_its_id_is_refused(api: Api, http: httpx.AsyncClient) -> None:
    integration = await create_integration(api, "jira")
    delivery = jira_delivery(integration["secret"], jira_issue("ONB-42", "done", at(9)))
    headers = {k: v for k, v in delivery.headers.items() if k != "X-Atlassian-Webhook-Identifier"}

    response = await http.post(integration["receivePath"], content=delivery.body, headers=headers)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "MISSING_DELIVERY_ID"


async def test_a_stale_linear_delivery_is_refused(api: Api, http: httpx.AsyncClient) -> None:
    initiative = await linked_initiative(api, "linear", "ONB-42")
    integration = await create_integration(api, "linear")
    captured = linear_issue("ONB-42", "done", at(9), sent_at=time.time() - 120)
    future = linear_issue("ONB-42", "done", at(9), sent_at=time.time() + 120)
    no_stamp = linear_issue("ONB-42", "done", at(9))
    del no_stamp["webhookTimestamp"]

    answers = [
        await send(http, integration, linear_delivery(integration["secret"], payload))
        for payload in (captured, future, no_stamp)
    ]

    assert [answer.status_code for answer in answers] == [401, 401, 401]
    assert {answer.json()["error"]["code"] for answer in answers} == {"STALE_TIMESTAMP"}
    assert await initiative_state(api, initiative) == {"status": "PLANNED", "version": 1}


async def test_unknown_integrations_are_404_and_record_nothing(
    api: Api, http: httpx.AsyncClient
) -> None:
    integration = await create_integration(api, "github")
    real_id = integration["receivePath"].rsplit("/", 1)[1]
    delivery = TOOLS["github"].change(integration["secret"], "done", at(9))

    for path in (
        f"/integrations/github/{uuid.uuid4()}",
        f"/integrations/jira/{real_id}",  # the right id under another provider
        "/integrations/github/not-a-uuid",
        f"/integrations/gitlab/{real_id}",
    ):
        response = await http.post(path, content=delivery.body, headers=delivery.headers)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "NOT_FOUND"
    assert await delivery_log(api, integration["id"]) == []


async def test_a_flood_on_one_integration_is_refused_before_the_database(
    database_url: str,
) -> None:
    settings = Settings(
        database_url=None,
        auth_cache_seconds=0,
        integration_rate_limit_per_second=0.01,
        integration_rate_limit_burst=3,
    )
    app = create_app(settings, database_url=database_url, webhook_worker=False)
    async with app.router.lifespan_context(app):
        _, key = await new_organization(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://okr.test") as client:
            api = Api(client, uuid.uuid4(), key)
            integration = await create_integration(api, "github")
            other = await create_integration(api, "github")
            delivery = TOOLS["github"].change("wrong secret", "done", at(9))

            answers = [(await send(client, integration, delivery)).status_code for _ in range(5)]
            elsewhere = await send(client, other, delivery)
            flooded = await send(client, integration, delivery)

            assert answers == [401, 401, 401, 429, 429]
            assert int(flooded.headers["Retry-After"]) >= 1
            assert elsewhere.status_code == 401  # its own budget
            assert len(await delivery_log(api, integration["id"])) == 3  # the 429s cost nothing


async def test_concurrent_twins_apply_once(api: Api, http: httpx.AsyncClient) -> None:
    initiative = await linked_initiative(api, "jira", "ONB-42")
    integration = await create_integration(api, "jira")
    delivery = jira_delivery(integration["secret"], jira_issue("ONB-42", "done", at(9)))

    answers = await asyncio.gather(*(send(http, integration, delivery) for _ in range(4)))

    outcomes = sorted(answer.json()["outcome"] for answer in answers)
    assert outcomes == ["applied", "duplicate", "duplicate", "duplicate"]
    assert await initiative_state(api, initiative) == {"status": "DONE", "version": 2}
    assert len(await status_events(api)) == 1


async def test_concurrent_deliveries_of_one_object_end_at_the_newest(
    api: Api, http: httpx.AsyncClient
) -> None:
    initiative = await linked_initiative(api, "linear", "ONB-42")
    integration = await create_integration(api, "linear")
    secret = integration["secret"]
    deliveries: list[Any] = [
        linear_delivery(secret, linear_issue("ONB-42", target, at(9, minute)))
        for minute, target in ((1, "in_progress"), (3, "done"), (2, "in_progress"))
    ]

    await asyncio.gather(*(send(http, integration, delivery) for delivery in deliveries))

    assert (await initiative_state(api, initiative))["status"] == "DONE"
