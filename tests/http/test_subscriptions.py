"""Subscriptions over graphql-transport-ws, driven by a real client (`gql` with its
websockets transport) against the live service: committed events only, resumable without
loss, one organization's events never shown to another, limits held."""

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import websockets
from fastapi import FastAPI
from gql import Client, GraphQLRequest
from gql.transport.exceptions import (
    TransportClosed,
    TransportConnectionFailed,
    TransportQueryError,
    TransportServerError,
)
from gql.transport.websockets import WebsocketsTransport

from okr_service.kit.principal import Scope
from tests import factories
from tests.conftest import Api, new_organization
from tests.http.conftest import ALLOWED_ORIGIN, OTHER_ORIGIN, LiveServer

EVENTS = """
subscription($types: [String!], $subjectId: ID, $after: ID) {
  events(types: $types, subjectId: $subjectId, after: $after) { id type subjectId data }
}
"""
KEY_RESULT_CHANGED = """
subscription($id: ID!, $after: ID) { keyResultChanged(id: $id, after: $after) { id type } }
"""
LOG = "{ events(first: 100) { edges { node { id type } } } }"
ENOUGH = 10.0  # seconds: a bound on a test that would otherwise hang, never a measure


def ws_url(server: LiveServer) -> str:
    return server.graphql.replace("http://", "ws://")


@asynccontextmanager
async def connected(server: LiveServer, key: str | None) -> AsyncIterator[Any]:
    """A gql session over graphql-transport-ws, authenticated in connection_init."""
    transport = WebsocketsTransport(
        url=ws_url(server),
        init_payload={"Authorization": f"Bearer {key}"} if key else {},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    async with Client(transport=transport) as session:
        yield session


Stream = AsyncGenerator[dict[str, Any], None]


def subscribe(session: Any, query: str, **variables: Any) -> Stream:
    stream: Stream = session.subscribe(GraphQLRequest(query, variable_values=variables))
    return stream


async def take(stream: Stream, count: int) -> list[dict[str, Any]]:
    """The first `count` results, then the subscription is completed (as clients do)."""
    received = []
    try:
        async with asyncio.timeout(ENOUGH):
            async for result in stream:
                received.append(next(iter(result.values())))
                if len(received) == count:
                    break
    finally:
        await stream.aclose()
    return received


async def last_event_id(api: Api) -> str:
    edges = (await api.query(LOG))["events"]["edges"]
    return str(edges[-1]["node"]["id"])


async def check_in(api: Api, key_result_id: str, value: float) -> None:
    await api.ok("recordCheckIn", {"keyResultId": key_result_id, "value": value})


@pytest.fixture
async def okr(api: Api) -> dict[str, str]:
    return await factories.okr(api)


async def test_committed_events_arrive_in_order(
    live_server: LiveServer, api: Api, okr: dict[str, str]
) -> None:
    after = await last_event_id(api)
    async with connected(live_server, api.key) as session:
        stream = subscribe(session, EVENTS, types=["key_result.checked_in"], after=after)
        await check_in(api, okr["key_result"], 12)
        await check_in(api, okr["key_result"], 14)
        received = await take(stream, 2)
    assert [event["type"] for event in received] == ["key_result.checked_in"] * 2
    assert [event["data"]["object"]["currentValue"] for event in received] == [12, 14]
    assert {event["subjectId"] for event in received} == {okr["key_result"]}


async def test_a_reconnect_resumes_after_the_last_event_seen_without_loss(
    live_server: LiveServer, api: Api, okr: dict[str, str]
) -> None:
    after = await last_event_id(api)
    async with connected(live_server, api.key) as session:
        stream = subscribe(session, KEY_RESULT_CHANGED, id=okr["key_result"], after=after)
        await check_in(api, okr["key_result"], 11)
        [first] = await take(stream, 1)
    # Disconnected: three changes happen meanwhile.
    for value in (15, 16, 17):
        await check_in(api, okr["key_result"], value)
    async with connected(live_server, api.key) as session:
        stream = subscribe(session, KEY_RESULT_CHANGED, id=okr["key_result"], after=first["id"])
        resumed = await take(stream, 3)
    log = [edge["node"] for edge in (await api.query(LOG))["events"]["edges"]]
    checked_in = [event["id"] for event in log if event["type"] == "key_result.checked_in"]
    # Every check-in after the first one seen, each once, in the log's order.
    assert [event["id"] for event in resumed] == checked_in[checked_in.index(first["id"]) + 1 :]
    assert len(resumed) == 3


async def test_without_after_only_new_events_arrive(
    live_server: LiveServer, api: Api, okr: dict[str, str]
) -> None:
    before = {edge["node"]["id"] for edge in (await api.query(LOG))["events"]["edges"]}
    async with connected(live_server, api.key) as session:
        stream = subscribe(session, EVENTS)
        pending = asyncio.ensure_future(take(stream, 1))
        value = 30.0
        while not pending.done():  # the subscription starts when the server gets to it
            value += 1
            await check_in(api, okr["key_result"], value)
            await asyncio.wait([pending], timeout=0.3)
        [event] = await pending
    assert event["id"] not in before
    assert event["type"] == "key_result.checked_in"


async def test_another_organization_sees_nothing(
    live_server: LiveServer, api: Api, other_api: Api, okr: dict[str, str]
) -> None:
    await factories.team(other_api, "First team")  # so that its log has a last event
    other_after = await last_event_id(other_api)
    async with connected(live_server, other_api.key) as session:
        # Even naming the first organization's key result: still nothing of it.
        spying = subscribe(session, EVENTS, after=other_after)
        await check_in(api, okr["key_result"], 18)
        await api.ok("createTeam", {"name": "Secret squad"})
        marker = await factories.team(other_api, "Own team")
        [event] = await take(spying, 1)
    assert event["subjectId"] == marker  # its own event, and nothing before it
    async with connected(live_server, other_api.key) as session:
        probe = subscribe(session, KEY_RESULT_CHANGED, id=okr["key_result"], after=other_after)
        pending = asyncio.ensure_future(take(probe, 1))
        await check_in(api, okr["key_result"], 19)
        done, _ = await asyncio.wait([pending], timeout=1.0)
        pending.cancel()
    assert not done


async def test_admin_only_events_reach_admins_only(
    live_server: LiveServer, app: FastAPI, api: Api
) -> None:
    viewer_key = await create_key(api, [Scope.READ])
    after = await last_event_id(api)
    async with (
        connected(live_server, viewer_key) as viewer,
        connected(live_server, api.key) as admin,
    ):
        as_viewer = subscribe(viewer, EVENTS, after=after)
        as_admin = subscribe(admin, EVENTS, after=after)
        await create_key(api, [Scope.READ])  # api_key.created: for admins
        marker = await factories.team(api, "Visible to all")
        [seen_by_viewer] = await take(as_viewer, 1)
        seen_by_admin = await take(as_admin, 2)
    assert seen_by_viewer["subjectId"] == marker
    assert [event["type"] for event in seen_by_admin] == ["api_key.created", "team.created"]


async def create_key(api: Api, scopes: list[Scope]) -> str:
    created = await api.query(
        "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }",
        {"input": {"name": "live", "scopes": [scope.name for scope in scopes]}},
    )
    return str(created["createApiKey"]["secret"])


@pytest.mark.parametrize("key", [None, "okr_not-a-key", "a.b.c"])
async def test_connection_init_without_a_valid_token_is_refused(
    live_server: LiveServer, key: str | None
) -> None:
    with pytest.raises((TransportServerError, TransportClosed, TransportConnectionFailed)):
        async with connected(live_server, key) as session:
            await take(subscribe(session, EVENTS), 1)


async def test_bad_arguments_are_errors_with_codes(live_server: LiveServer, api: Api) -> None:
    async with connected(live_server, api.key) as session:
        with pytest.raises(TransportQueryError) as unknown_type:
            await take(subscribe(session, EVENTS, types=["no.such_event"]), 1)
        with pytest.raises(TransportQueryError) as wrong_node:
            await take(subscribe(session, KEY_RESULT_CHANGED, id="not-an-id"), 1)
    assert unknown_type.value.errors[0]["extensions"]["code"] == "INVALID_VALUE"
    assert wrong_node.value.errors[0]["extensions"]["code"] == "INVALID_ID"


async def test_subscriptions_per_connection_and_per_key_are_bounded(
    live_server: LiveServer, app: FastAPI
) -> None:
    """The live server allows 3 per connection and 4 per key (tests/http/conftest.py)."""
    _, key = await new_organization(app)
    async with connected(live_server, key) as first, connected(live_server, key) as second:
        open_streams = [subscribe(first, EVENTS) for _ in range(3)]
        open_streams += [subscribe(second, EVENTS)]
        started = [asyncio.ensure_future(take(stream, 1)) for stream in open_streams]
        await asyncio.sleep(0.5)  # let the server take each subscription (no answer comes)
        assert not any(task.done() for task in started)
        with pytest.raises(TransportQueryError) as per_connection:
            await take(subscribe(first, EVENTS), 1)
        with pytest.raises(TransportQueryError) as per_key:
            await take(subscribe(second, EVENTS), 1)
        for task in started:
            task.cancel()
    assert "limit" in per_connection.value.errors[0]["message"].lower()
    assert per_key.value.errors[0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"


async def raw_socket(server: LiveServer, subprotocol: str | None) -> Any:
    return await websockets.connect(
        ws_url(server),
        subprotocols=[subprotocol] if subprotocol else None,  # type: ignore[list-item]
    )


async def test_an_oversized_message_closes_the_socket(live_server: LiveServer, api: Api) -> None:
    async with await raw_socket(live_server, "graphql-transport-ws") as socket:
        await socket.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {api.key}"}}
            )
        )
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        huge = "x" * 70_000
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": huge}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


async def until_closed(socket: Any) -> None:
    """Read until the server closes; only a refusal or a keep-alive may come first."""
    async with asyncio.timeout(ENOUGH):
        while True:
            message = json.loads(await socket.recv())
            assert message["type"] in {"connection_error", "ka"}, message


@pytest.mark.parametrize("subprotocol", [None, "graphql-transport-ws", "graphql-ws"])
async def test_any_websocket_upgrade_is_answered_without_a_server_error(
    live_server: LiveServer, subprotocol: str | None
) -> None:
    """No token, or no protocol: a clean close, never a 500 (and no traceback in the
    server's log: checked when the live server stops)."""
    async with await raw_socket(live_server, subprotocol) as socket:
        if subprotocol is not None:
            await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await until_closed(socket)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code in {4403, 4406, 1011}  # 1011: graphql-ws's refusal


async def test_a_browser_websocket_from_another_origin_is_allowed_only_as_cors_allows(
    live_server: LiveServer, api: Api
) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(
            ws_url(live_server), subprotocols=["graphql-transport-ws"], origin=OTHER_ORIGIN
        )
    assert refused.value.response.status_code == 403
    async with websockets.connect(
        ws_url(live_server), subprotocols=["graphql-transport-ws"], origin=ALLOWED_ORIGIN
    ) as socket:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {api.key}"}}
        await socket.send(json.dumps(init))
        assert json.loads(await socket.recv()) == {"type": "connection_ack"}


async def test_a_key_revoked_while_subscribed_ends_its_subscriptions(
    live_server: LiveServer, api: Api
) -> None:
    created = await api.query(
        "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) "
        "{ apiKey { id } secret } }",
        {"input": {"name": "soon revoked", "scopes": ["READ"]}},
    )
    key, key_id = created["createApiKey"]["secret"], created["createApiKey"]["apiKey"]["id"]
    async with connected(live_server, key) as session:
        stream = subscribe(session, EVENTS, after=await last_event_id(api))
        await factories.team(api, "Seen while the key works")
        [seen] = await take_open(stream)
        revoked = await api.query(
            "mutation($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) "
            "{ apiKey { revokedAt } } }",
            {"input": {"id": key_id}},
        )
        assert revoked["revokeApiKey"]["apiKey"]["revokedAt"]
        with pytest.raises(TransportQueryError) as ended:
            await take(stream, 1)
    assert seen["type"] == "team.created"
    assert ended.value.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


async def take_open(stream: Stream) -> list[dict[str, Any]]:
    """The next result, leaving the subscription open."""
    async with asyncio.timeout(ENOUGH):
        result = await anext(stream)
    return [next(iter(result.values()))]
