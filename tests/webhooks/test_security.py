"""The SSRF guard, at subscription and at connect time; secrets that never leak."""

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook

from okr_service.kit.principal import Scope
from okr_service.webhooks.ssrf import AddressPolicy, BlockedAddress, guarded_client
from okr_service.webhooks.worker import DeliveryWorker
from tests import factories
from tests.conftest import Api, new_organization
from tests.webhooks.conftest import (
    Receiver,
    StartWorker,
    create_endpoint,
    deliveries,
    eventually,
    finished,
    ok,
    settings_changed,
)


@pytest.fixture
def no_allowlist(app: FastAPI) -> Iterator[None]:
    """Production settings: https only, nothing private reachable."""
    with settings_changed(app, webhook_allowed_cidrs="", webhook_allow_http=False):
        yield


async def url_errors(api: Api, url: str) -> list[dict[str, object]]:
    payload = await api.mutate("createWebhookEndpoint", {"url": url}, "webhookEndpoint { id }")
    assert payload["webhookEndpoint"] is None
    errors: list[dict[str, object]] = payload["userErrors"]
    return errors


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://10.1.2.3/hooks",
        "https://192.168.0.10/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://[::ffff:a9fe:a9fe]/hooks",
        "https://0.0.0.0/hooks",
        "https://224.0.0.1/hooks",
        "https://localhost/hooks",
        "https://localhost.:8443/hooks",
        "http://93.184.215.14/hooks",
        "ftp://93.184.215.14/hooks",
        "https://user:pw@93.184.215.14/hooks",
        "not a url",
    ],
)
async def test_blocked_urls_are_refused_at_subscription(
    api: Api, no_allowlist: None, url: str
) -> None:
    errors = await url_errors(api, url)
    assert [(error["field"], error["code"]) for error in errors] == [(["url"], "INVALID_VALUE")]


async def test_the_allowlist_opens_exactly_its_networks(api: Api) -> None:
    await create_endpoint(api, "http://127.0.0.1:9/hooks")  # allowed in these tests
    assert await url_errors(api, "http://127.0.0.2/hooks")
    assert await url_errors(api, "http://[::ffff:127.0.0.1]/hooks")  # mapped: not the same


async def test_the_address_connected_to_is_checked_at_connect_time(receiver: Receiver) -> None:
    """A host that resolved to an allowed address at subscription may not later reach a
    blocked one (DNS rebinding): the client itself resolves and refuses."""
    async with guarded_client(AddressPolicy(allow_http=True), timeout=5) as client:
        for url in (receiver.url, f"http://localhost:{receiver.port}/hooks"):
            with pytest.raises(BlockedAddress):
                await client.post(url, content=b"{}")
    assert receiver.requests == []


async def test_a_worker_refuses_an_endpoint_that_became_blocked(
    api: Api, receiver: Receiver, start_worker: StartWorker
) -> None:
    endpoint_id, _ = await create_endpoint(api, receiver.url)
    await start_worker(webhook_allowed_cidrs="", webhook_retry_schedule="0")
    await ok(api, "sendTestWebhook", {"endpointId": endpoint_id}, "event { id }")
    [dead] = await eventually(lambda: deliveries(api, endpoint_id), finished)
    assert "SSRF" in dead["lastError"]
    assert dead["attempts"][0]["statusCode"] is None
    assert receiver.requests == []


async def test_secrets_never_appear_after_creation(
    api: Api, app: FastAPI, receiver: Receiver, worker: DeliveryWorker
) -> None:
    endpoint_id, first = await create_endpoint(api, receiver.url)
    rotated = await ok(api, "rotateWebhookSecret", {"id": endpoint_id}, "secret")
    second = rotated["secret"]
    await ok(api, "sendTestWebhook", {"endpointId": endpoint_id}, "event { id data }")
    ids = await factories.okr(api)
    await api.ok("updateObjective", {"id": ids["objective"], "state": "ACTIVE"})
    await receiver.wait_for(1)
    await ok(api, "deleteWebhookEndpoint", {"id": endpoint_id}, "webhookEndpoint { id }")

    seen = [
        (
            await api.post(
                "{ webhookEndpoints { edges { node { id url description eventTypes enabled "
                "disabledReason failingSince previousSecretExpiresAt createdAt updatedAt } } } "
                "events(first: 100) { edges { node { id type data subjectId } } } }"
            )
        ).text,
        (await api.post('{ __type(name: "WebhookEndpoint") { fields { name } } }')).text,
        *(request.body.decode() for request in receiver.requests),
    ]
    async with app.state.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT data::text || actor::text FROM events WHERE organization_id = :org"),
            {"org": api.organization_id},
        )
        seen += [row[0] for row in rows]
    for secret in (first, second):
        key = secret.removeprefix("whsec_")
        assert not [text_ for text_ in seen if key in text_ or secret in text_]
    assert "secret" not in seen[1].replace("previousSecretExpiresAt", "")
    Webhook(second).verify(receiver.requests[0].body, receiver.requests[0].headers)


async def test_webhooks_need_the_admin_scope(app: FastAPI, api: Api) -> None:
    _, key = await new_organization(app, [Scope.WRITE])
    writer = Api(api.client, api.organization_id, key)
    errors = (
        await writer.mutate(
            "createWebhookEndpoint", {"url": "https://example.com/h"}, "webhookEndpoint { id }"
        )
    )["userErrors"]
    assert [error["code"] for error in errors] == ["FORBIDDEN"]
    [error] = await writer.errors("{ webhookEndpoints { edges { node { id } } } }")
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert (await writer.query("{ events { edges { node { id } } } }"))["events"]["edges"] == []
