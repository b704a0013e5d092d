"""Deep JSON (a body, its variables, a GET's variables) is refused 400 INPUT_TOO_DEEP before
anything walks it; wide JSON within the body limit runs; undeclared variables are ignored;
bad input never logs at ERROR (a traceback per request would be a log flood)."""

import logging
import time
from typing import Any

import httpx
import pytest
from graphql import parse

from okr_service.graphql.limits import input_error
from okr_service.kit.json_input import InputTooDeep, check_depth, holds_nul
from tests.conftest import Api

VIEWER = "{ viewer { role } }"
MAX_DEPTH = 32  # the default OKR_MAX_JSON_DEPTH


def nested_text(levels: int, shape: str = "array") -> str:
    """JSON text nesting `levels` arrays (or objects) around 0: written out, since no
    encoder would write one this deep."""
    opening, closing = ("[", "]") if shape == "array" else ('{"a":', "}")
    return opening * levels + "0" + closing * levels


def nested_input(levels: int) -> dict[str, Any]:
    """A CreateTeamInput with an (unknown) field nesting input objects `levels` deep."""
    value: dict[str, Any] = {"name": "Deep"}
    for _ in range(levels - 1):
        value = {"name": "Deep", "parent": value}
    return value


async def post_raw(api: Api, body: str) -> httpx.Response:
    return await api.client.post(
        "/graphql",
        content=body.encode(),
        headers={"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"},
    )


def assert_too_deep(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "INPUT_TOO_DEEP", error
    assert str(MAX_DEPTH) in error["message"]


def assert_no_error_logged(caplog: pytest.LogCaptureFixture) -> None:
    loud = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert loud == [], [record.getMessage()[:200] for record in loud]
    assert not any(record.exc_info for record in caplog.records)


async def test_deep_variables_are_refused_without_a_traceback(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # The adversarial test's request: 318 levels in 687 bytes, once an internal error.
    body = f'{{"query":"{VIEWER}","variables":{{"x":{nested_text(318)}}}}}'
    assert len(body) == 687
    assert_too_deep(await post_raw(api, body))
    # Deeper than orjson itself parses (1024), as objects, and in `extensions`.
    assert_too_deep(await post_raw(api, f'{{"query":"{VIEWER}","variables":{nested_text(3000)}}}'))
    obj = nested_text(200, "object")
    assert_too_deep(await post_raw(api, f'{{"query":"{VIEWER}","variables":{{"x":{obj}}}}}'))
    assert_too_deep(await post_raw(api, f'{{"query":"{VIEWER}","extensions":{obj}}}'))
    # A GET's variables are the same JSON.
    response = await api.client.get(
        "/graphql",
        params={"query": VIEWER, "variables": f'{{"x":{nested_text(318)}}}'},
        headers={"Authorization": f"Bearer {api.key}"},
    )
    assert_too_deep(response)
    assert_no_error_logged(caplog)


async def test_json_at_the_depth_limit_runs(api: Api) -> None:
    # The body is level 1, `variables` level 2, so `x` may nest MAX_DEPTH - 2 levels.
    body = f'{{"query":"{VIEWER}","variables":{{"x":{nested_text(MAX_DEPTH - 3)}}}}}'
    response = await post_raw(api, body)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["viewer"]["role"] == "ADMIN"
    too_deep = f'{{"query":"{VIEWER}","variables":{{"x":{nested_text(MAX_DEPTH - 1)}}}}}'
    assert_too_deep(await post_raw(api, too_deep))


async def test_deep_nested_input_objects(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    mutation = "mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { id } } }"
    # In the variables, past the limit: refused before GraphQL runs.
    response = await api.post(mutation, {"input": nested_input(400)})
    assert_too_deep(response)
    # Within the limit: an ordinary validation error (the field is unknown), nothing written.
    body = (await api.post(mutation, {"input": nested_input(10)})).json()
    assert "data" not in body  # a request error: execution never began
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    # Written in the document itself: graphql-core refuses to parse it.
    literal = "{name: " * 400 + '"x"' + "}" * 400
    deep_document = f"mutation {{ createTeam(input: {literal}) {{ team {{ id }} }} }}"
    body = (await api.post(deep_document)).json()
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    teams = await api.query("{ teams(first: 5) { edges { node { name } } } }")
    assert teams["teams"]["edges"] == []
    assert_no_error_logged(caplog)


async def test_a_huge_flat_array_within_the_body_limit_runs(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wide = "[" + ",".join(["0"] * 400_000) + "]"  # 800 KB, under the 1 MB body limit
    started = time.monotonic()
    response = await post_raw(api, f'{{"query":"{VIEWER}","variables":{{"x":{wide}}}}}')
    assert response.status_code == 200, response.text
    assert response.json()["data"]["viewer"]["role"] == "ADMIN"
    # Declared and scanned for NUL to its last item, without recursion.
    strings = ["a"] * 150_000 + ["\x00"]
    query = "query($types: [String!]) { events(types: $types, first: 1) { edges { node { id } } } }"
    body = (await api.post(query, {"types": strings})).json()
    assert body["errors"][0]["extensions"]["code"] == "INVALID_VALUE", body
    assert time.monotonic() - started < 5
    assert_no_error_logged(caplog)


async def test_undeclared_variables_are_ignored(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    variables = {"unused": "NUL \x00 inside", "deepish": [[[[["x\x00"]]]]], "n": 1}
    body = (await api.post(VIEWER, variables)).json()
    assert "errors" not in body, body
    assert body["data"] == {"viewer": {"role": "ADMIN"}}
    # A declared one is still scanned.
    query = "query($types: [String!]) { events(types: $types, first: 1) { edges { node { id } } } }"
    body = (await api.post(query, {"types": ["ok", "NUL \x00"]})).json()
    assert body["errors"][0]["extensions"]["code"] == "INVALID_VALUE"
    assert_no_error_logged(caplog)


def test_walks_never_recurse() -> None:
    deep: Any = "\x00"
    for _ in range(100_000):  # 100 times Python's recursion limit
        deep = [deep]
    with pytest.raises(InputTooDeep):
        check_depth(deep, MAX_DEPTH)
    with pytest.raises(InputTooDeep):
        holds_nul(deep, MAX_DEPTH)
    assert holds_nul(deep, 100_001)
    check_depth(deep, 100_001)
    assert not holds_nul({"a": [{"b": "c"}] * 1000}, MAX_DEPTH)
    assert holds_nul({"a\x00": 1}, MAX_DEPTH)  # keys are text too


def test_the_schema_guards_callers_other_than_http() -> None:
    """Whoever executes the schema gets a GraphQL error for deep declared variables."""
    document = parse("query($x: [Int]) { viewer { role } }")
    deep: Any = 1
    for _ in range(2000):
        deep = [deep]
    error = input_error(document, None, {"x": deep}, MAX_DEPTH)
    assert error is not None
    assert error.extensions == {"code": "INPUT_TOO_DEEP"}
    assert input_error(document, None, {"undeclared": deep}, MAX_DEPTH) is None
