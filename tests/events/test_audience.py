"""Who hears of which event: the catalog's names everywhere, admin-only types to admins and
to endpoints that name them only."""

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from okr_service.kit.principal import Scope
from tests.conftest import Api
from tests.graphql.test_auth import organization_with_key
from tests.webhooks.conftest import create_endpoint, deliveries, settings_changed

EVENTS = (
    "query($types: [String!]) { events(types: $types, first: 100) { edges { node { type } } } }"
)


@pytest.fixture(autouse=True)
def local_endpoints_allowed(app: FastAPI) -> Iterator[None]:
    with settings_changed(app, webhook_allowed_cidrs="127.0.0.1/32", webhook_allow_http=True):
        yield


async def logged_types(api: Api, types: list[str] | None = None) -> list[str]:
    data = await api.query(EVENTS, {"types": types})
    return [edge["node"]["type"] for edge in data["events"]["edges"]]


async def test_an_unknown_type_name_is_an_error_in_the_log_query(api: Api) -> None:
    [error] = await api.errors(EVENTS, {"types": ["team.created", "keyresult.checkedin"]})
    assert error["extensions"] == {"code": "INVALID_VALUE", "field": ["types", "1"]}
    assert "keyresult.checkedin" in error["message"]


async def test_a_long_list_of_unknown_names_gets_a_short_answer(api: Api) -> None:
    """Junk repeated a thousand times is refused with the first ten names, each clipped."""
    [error] = await api.errors(EVENTS, {"types": ["x" * 300] * 1000})
    assert error["extensions"]["code"] == "INVALID_VALUE"
    assert error["message"].count("Unknown event type") == 10
    assert len(error["message"]) < 2000


async def test_an_unknown_type_name_is_refused_as_a_subscription(api: Api) -> None:
    payload = await api.mutate(
        "createWebhookEndpoint",
        {"url": "http://127.0.0.1:9/a", "eventTypes": ["api_key.created", "apikey.created"]},
        "webhookEndpoint { id }",
    )
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["eventTypes", "1"], "INVALID_VALUE")
    ]


async def test_admin_only_types_reach_only_endpoints_that_name_them(api: Api) -> None:
    everything, _ = await create_endpoint(api, "http://127.0.0.1:9/all")
    naming, _ = await create_endpoint(
        api, "http://127.0.0.1:9/keys", eventTypes=["api_key.created", "team.created"]
    )
    await api.mutate("createApiKey", {"name": "bot", "scopes": ["READ"]}, "apiKey { id }")
    await api.ok("createTeam", {"name": "Core"})

    delivered = {
        endpoint: sorted(row["event"]["type"] for row in await deliveries(api, endpoint))
        for endpoint in (everything, naming)
    }
    assert delivered == {
        everything: ["team.created"],  # not the key, nor the other endpoint's creation
        naming: ["api_key.created", "team.created"],
    }


async def test_admin_only_events_are_in_the_log_of_admins_only(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    admin, reader = await organization_with_key(app, http, [Scope.READ])
    await admin.mutate("createApiKey", {"name": "bot", "scopes": ["READ"]}, "apiKey { id }")
    await create_endpoint(admin, "http://127.0.0.1:9/all")
    await admin.ok("createTeam", {"name": "Core"})

    assert sorted(await logged_types(admin)) == [
        "api_key.created",
        "team.created",
        "webhook_endpoint.created",
    ]
    assert await logged_types(reader) == ["team.created"]
    assert await logged_types(reader, ["api_key.created"]) == []
