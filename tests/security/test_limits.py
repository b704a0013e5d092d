"""Abuse limits: each is probed just above (refused, nothing executed) and at its edge (runs)."""

import time
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.extensions.parser_cache import _get_parse_cache
from strawberry.extensions.validation_cache import _get_validate_cache

from okr_service.kit.ratelimit import LeakyBucket
from tests import factories
from tests.conftest import Api
from tests.graphql.support import db_state
from tests.security.conftest import AppWith


async def refused(api: Api, query: str, code: str, variables: dict[str, Any] | None = None) -> Any:
    response = await api.post(query, variables)
    body = response.json()
    assert response.status_code == 200, body
    assert "data" not in body, body  # a request error: execution never began
    assert [error["extensions"]["code"] for error in body["errors"]] == [code], body
    assert body["errors"][0]["message"]
    return body


def nested_teams(levels: int) -> str:
    """`teams { edges { node { parent { ... } } } }` with `levels` selection-set levels."""
    inner = "id"
    for _ in range(levels - 3):
        inner = f"parent {{ {inner} }}"
    return f"{{ teams(first: 1) {{ edges {{ node {{ {inner} }} }} }} }}"


async def test_depth_limit(api: Api, engine: AsyncEngine) -> None:
    await api.query(nested_teams(10))
    body = await refused(api, nested_teams(11), "QUERY_TOO_DEEP")
    assert body["errors"][0]["extensions"]["depth"] == 11
    # A mutation over the limit runs nothing: no team is created.
    before = await db_state(engine, api.organization_id)
    selection = "id"
    for _ in range(10):
        selection = f"parent {{ {selection} }}"
    await refused(
        api,
        f'mutation {{ createTeam(input: {{name: "Deep"}}) {{ team {{ {selection} }} }} }}',
        "QUERY_TOO_DEEP",
    )
    assert await db_state(engine, api.organization_id) == before


async def test_depth_counts_fragments(api: Api) -> None:
    inner = "id"
    for _ in range(8):
        inner = f"parent {{ {inner} }}"
    query = (
        f"query {{ teams {{ edges {{ ...E }} }} }} fragment E on TeamEdge {{ node {{ {inner} }} }}"
    )
    await refused(api, query, "QUERY_TOO_DEEP")


def aliased(count: int) -> str:
    return "{ " + " ".join(f"a{i}: viewer {{ __typename }}" for i in range(count)) + " }"


async def test_alias_limit(api: Api) -> None:
    await api.query(aliased(15))
    body = await refused(api, aliased(16), "TOO_MANY_ALIASES")
    assert body["errors"][0]["extensions"]["aliases"] == 16


def with_tokens(count: int) -> str:
    """A document of exactly `count` tokens: 18 of structure and a list of strings."""
    types = " ".join(['"objective.created"'] * (count - 18))
    return f"{{ events(types: [{types}]) {{ edges {{ node {{ id }} }} }} }}"


async def test_token_limit(api: Api) -> None:
    await api.query(with_tokens(2000))
    body = await refused(api, with_tokens(2001), "TOO_MANY_TOKENS")
    assert "2000 tokens" in body["errors"][0]["message"]


async def test_syntax_errors_have_a_code(api: Api) -> None:
    await refused(api, "{ viewer { ", "GRAPHQL_PARSE_FAILED")


async def test_token_limit_keeps_the_parser_and_validation_caches(api: Api) -> None:
    query = "{ viewer { organization { id } } }"
    await api.query(query)
    parse_hits = _get_parse_cache(1024).cache_info().hits
    validate_hits = _get_validate_cache(1024).cache_info().hits
    await api.query(query)
    assert _get_parse_cache(1024).cache_info().hits == parse_hits + 1
    assert _get_validate_cache(1024).cache_info().hits == validate_hits + 1


COSTLY = """query($n: Int, $m: Int!) {
  objectives(first: $n) { edges { node { id keyResults {
    checkIns(first: $m) { edges { node { id } } }
  } } } }
}"""


async def test_cost_is_reported(api: Api) -> None:
    body = (await api.post("{ viewer { organization { id } } }")).json()
    assert body["extensions"]["cost"] == {"requestedQueryCost": 2, "maximumAvailable": 200_000}
    # 1 connection + 5 edges + 5 nodes + 5 x 5 key results (estimated) + 25 x (a check-in
    # connection, 3 edges, 3 nodes)
    body = (await api.post(COSTLY, {"n": 5, "m": 3})).json()
    assert "errors" not in body, body
    assert body["extensions"]["cost"]["requestedQueryCost"] == 1 + 5 + 5 + 25 + 25 * 7
    # Without `first`, a connection holds 25.
    body = (await api.post("{ teams { edges { node { id } } pageInfo { hasNextPage } } }")).json()
    assert body["extensions"]["cost"]["requestedQueryCost"] == 1 + 25 + 25 + 1


async def test_cost_limit(api: Api, engine: AsyncEngine) -> None:
    # 1 + 100 + 100 + 500 + 500 x (1 + 2 x 199) = 200,201 > 200,000; with 20 check-ins
    # per key result: 21,201.
    await api.query(COSTLY, {"n": 100, "m": 20})
    body = await refused(api, COSTLY, "QUERY_TOO_COSTLY", {"n": 100, "m": 199})
    assert body["errors"][0]["extensions"]["cost"] == 200_201
    report = {"requestedQueryCost": 200_201, "maximumAvailable": 200_000}
    assert body["extensions"]["cost"] == report
    # A costly mutation writes nothing.
    ids = await factories.okr(api)
    before = await db_state(engine, api.organization_id)
    await refused(
        api,
        "mutation($input: RecordCheckInInput!) { recordCheckIn(input: $input) "
        "{ checkIn { keyResult { checkIns(first: 300000) { edges { node { id } } } } } } }",
        "QUERY_TOO_COSTLY",
        {"input": {"keyResultId": ids["key_result"], "value": 15}},
    )
    assert await db_state(engine, api.organization_id) == before


async def test_cost_limit_is_a_setting(app_with: AppWith) -> None:
    async with app_with(max_query_cost=50) as api:
        await api.query("{ teams(first: 24) { edges { node { id } } } }")  # 49
        await refused(api, "{ teams(first: 25) { edges { node { id } } } }", "QUERY_TOO_COSTLY")


async def test_introspection_can_be_switched_off(api: Api, app_with: AppWith) -> None:
    query = "{ __schema { queryType { name } } }"
    assert (await api.query(query))["__schema"]["queryType"]["name"] == "Query"
    async with app_with(introspection=False) as closed:
        await refused(closed, query, "INTROSPECTION_DISABLED")
        await refused(closed, '{ __type(name: "Query") { name } }', "INTROSPECTION_DISABLED")
        assert await closed.query("{ viewer { __typename } }")  # __typename stays


async def test_graphiql_can_be_switched_off(app_with: AppWith) -> None:
    async with app_with(graphiql=False) as api:
        response = await api.client.get("/graphql", headers={"Accept": "text/html"})
        assert response.status_code == 404


async def test_body_size_limit(api: Api) -> None:
    padding = "x" * 1_000_001
    response = await api.post("{ viewer { __typename } }", {"padding": padding})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"

    async def chunks() -> Any:  # no Content-Length: counted as it streams in
        yield b'{"query": "{ viewer { __typename } }", "variables": {"p": "'
        for _ in range(11):
            yield b"x" * 100_000
        yield b'"}}'

    response = await api.client.post(
        "/graphql",
        content=chunks(),
        headers={"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_batches_and_non_object_bodies_are_refused(api: Api) -> None:
    for body in (b'[{"query": "{ viewer { __typename } }"}]', b'"query"', b"42", b"null"):
        response = await api.client.post(
            "/graphql",
            content=body,
            headers={"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"},
        )
        assert response.status_code == 400, (body, response.text)


async def test_rate_limit(app_with: AppWith) -> None:
    async with app_with(rate_limit_per_second=0.5, rate_limit_burst=3) as api:
        for _ in range(3):
            await api.query("{ viewer { __typename } }")
        response = await api.post("{ viewer { __typename } }")
        assert response.status_code == 429
        assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert 1 <= int(response.headers["Retry-After"]) <= 2
        # Another key has its own bucket.
        other = httpx.Headers({"Authorization": "Bearer another-key"})
        response = await api.client.post("/graphql", json={"query": "{ x }"}, headers=other)
        assert response.status_code == 401
        # Probes stay out of it.
        assert (await api.client.get("/healthz")).status_code == 200


def test_leaky_bucket_leaks() -> None:
    now = [0.0]
    bucket = LeakyBucket(rate=2, burst=4, clock=lambda: now[0])
    assert [bucket.take("k") for _ in range(4)] == [0, 0, 0, 0]
    assert bucket.take("k") == 0.5  # one unit leaks out in 1/rate seconds
    assert bucket.take("other") == 0
    now[0] = 0.5
    assert bucket.take("k") == 0
    assert bucket.take("k") == 0.5
    now[0] = 10.0  # drained: a whole burst again
    assert [bucket.take("k") for _ in range(4)] == [0, 0, 0, 0]


def test_leaky_bucket_keeps_a_bounded_number_of_keys() -> None:
    bucket = LeakyBucket(rate=1, burst=1, max_keys=3)
    for key in "abcdef":
        bucket.take(key)
    assert len(bucket._buckets) == 3


def fragment_bomb(levels: int, nest: bool) -> str:
    """Each fragment spreads the next twice: 2^levels paths through a short document."""
    inner = "parent {{ ...F{} ...F{} }}" if nest else "...F{} ...F{}"
    fragments = "\n".join(
        f"fragment F{i} on Team {{ id {inner.format(i + 1, i + 1)} }}" for i in range(levels)
    )
    return (
        "{ teams(first: 1) { edges { node { ...F0 } } } }\n"
        f"{fragments}\nfragment F{levels} on Team {{ parent {{ id }} }}"
    )


async def test_fragment_bombs_are_refused_quickly(api: Api) -> None:
    started = time.monotonic()
    await refused(api, fragment_bomb(40, nest=True), "QUERY_TOO_DEEP")
    body = await refused(api, fragment_bomb(40, nest=False), "QUERY_TOO_COSTLY")
    assert body["errors"][0]["extensions"]["cost"] > 2**40
    assert time.monotonic() - started < 5


async def test_nul_characters_are_refused_before_anything_runs(
    api: Api, engine: AsyncEngine
) -> None:
    """Found by the fuzzer: PostgreSQL cannot store U+0000 in text (was a masked 500)."""
    before = await db_state(engine, api.organization_id)
    mutation = "mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { id } } }"
    await refused(api, mutation, "INVALID_VALUE", {"input": {"name": "a\x00b"}})
    await refused(
        api, 'mutation { createTeam(input: {name: "a\\u0000b"}) { team { id } } }', "INVALID_VALUE"
    )
    await refused(api, '{ events(types: ["\\u0000"]) { edges { node { id } } } }', "INVALID_VALUE")
    # The other two ways a literal holds it: the braced escape, and the character itself.
    for name in ("a\\u{0}b", "a\x00b", '"""a\x00b"""'):
        literal = name if name.startswith('"""') else f'"{name}"'
        document = f"mutation {{ createTeam(input: {{name: {literal}}}) {{ team {{ id }} }} }}"
        await refused(api, document, "INVALID_VALUE")
    assert await db_state(engine, api.organization_id) == before
