"""Fuzzing: schemathesis generates GraphQL operations from the committed schema, valid and
invalid ones, for every query and mutation field; and raw bodies of any shape. None may
answer a 5xx or an INTERNAL_SERVER_ERROR, and every GraphQL error must carry a code.

IDs are drawn from real objects of the caller's organization, of another organization,
malformed strings and base64 of wrong types, so lookups, cross-tenant probes and cursor
decoding all get exercised. Texts are often padded past their column's length with white
space (U+3000 included) that validation trims: the stored text must be the validated one,
never a 500 from an overflowing column. The budget is small in the normal run
(deterministic, about 20 s); `OKR_FUZZ_EXAMPLES=500 pytest tests/security/test_fuzz.py`
runs a larger, random one.
"""

import base64
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import graphql
import httpx
import orjson
import pytest
import schemathesis

# Imported here, at collection, rather than lazily deep inside the async test: pytest
# rewrites schemathesis' modules (it is a pytest plugin) and CPython 3.11 can fail to
# compile one so deep in the stack ("AST constructor recursion depth mismatch").
import schemathesis.specs.graphql.schemas
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

from tests.conftest import Api
from tests.graphql.support import malformed_ids, world

SCHEMA = Path(__file__).resolve().parents[2] / "schema" / "schema.graphql"
EXAMPLES = int(os.environ.get("OKR_FUZZ_EXAMPLES", "8"))
RANDOM = "OKR_FUZZ_EXAMPLES" in os.environ  # on demand: a different run every time


def b64(raw: str) -> str:
    return base64.b64encode(raw.encode()).decode()


def id_strategy(own: list[str], foreign: list[str]) -> st.SearchStrategy[graphql.ValueNode]:
    bad = [*malformed_ids("Objective"), b64("Objective:" + "0" * 36), b64("Nope:1"), "=="]
    texts = st.text(max_size=40)
    return st.one_of(
        st.sampled_from(own),
        st.sampled_from(foreign),
        st.sampled_from(bad),
        texts,
        texts.map(b64),
    ).map(lambda value: graphql.StringValueNode(value=value))


def text_strategy() -> st.SearchStrategy[graphql.ValueNode]:
    texts = st.text(max_size=40)
    padding = st.sampled_from([" ", "\u3000", "\u00a0", "\t"])
    padded = st.builds(
        lambda text, pad, count: text + pad * count, texts, padding, st.integers(150, 300)
    )
    return st.one_of(texts, padded).map(lambda value: graphql.StringValueNode(value=value))


def generate(mode: GenerationMode) -> list[dict[str, Any]]:
    """Request bodies for every operation of the schema, EXAMPLES each."""
    schema = schemathesis.graphql.from_path(SCHEMA)
    bodies: list[dict[str, Any]] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=EXAMPLES,
            database=None,
            deadline=None,
            derandomize=not RANDOM,
            suppress_health_check=list(HealthCheck),
            phases=[settings.default.phases[2]],  # generate only: nothing to shrink
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def collect(case: Any) -> None:
            bodies.append(case.as_transport_kwargs(base_url="http://okr.test")["json"])

        collect()
    return bodies


def assert_no_internal_error(response: httpx.Response, sent: object, seen: Counter[str]) -> None:
    assert response.status_code < 500, (sent, response.text)
    seen[str(response.status_code)] += 1
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        for error in body.get("errors") or () if isinstance(body, dict) else ():
            code = (error.get("extensions") or {}).get("code")
            assert code, (sent, error)
            assert code != "INTERNAL_SERVER_ERROR", (sent, error)
            seen[code] += 1


@pytest.fixture
async def ids(api: Api, other_api: Api) -> tuple[list[str], list[str]]:
    own = list((await world(api)).values())
    foreign = list((await world(other_api)).values())
    return own, foreign


async def test_fuzz_graphql_operations(api: Api, ids: tuple[list[str], list[str]]) -> None:
    own, foreign = ids
    # Process-wide, like any schemathesis registration: nothing else here generates IDs
    # or strings.
    schemathesis.graphql.scalar("ID", id_strategy(own, foreign))
    schemathesis.graphql.scalar("String", text_strategy())
    started = time.monotonic()
    bodies = generate(GenerationMode.POSITIVE) + generate(GenerationMode.NEGATIVE)
    generated = time.monotonic() - started
    seen: Counter[str] = Counter()
    for body in bodies:
        response = await api.client.post(
            "/graphql", json=body, headers={"Authorization": f"Bearer {api.key}"}
        )
        assert_no_internal_error(response, body, seen)
    print(
        f"\nfuzz: {len(bodies)} operations ({generated:.1f} s to generate), "
        f"{time.monotonic() - started:.1f} s; answers: {dict(seen)}"
    )
    assert len(bodies) >= 40 * EXAMPLES  # every field of Query and Mutation, both modes
    assert seen["200"] == len(bodies)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["query", "variables", "operationName", "extensions"])
            | st.text(max_size=8),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


def nested(depth: int, shape: str) -> bytes:
    """JSON text nesting arrays or objects `depth` levels deep (no encoder writes that)."""
    opening, closing = (b"[", b"]") if shape == "array" else (b'{"a":', b"}")
    return opening * depth + b"0" + closing * depth


# Deep shapes wherever a request carries JSON: the body itself, variables (declared or
# not), extensions; past the depth limit, and past orjson's own (1024).
DEEP = st.builds(
    lambda where, depth, shape: where.replace(b"$", nested(depth, shape)),
    st.sampled_from(
        [
            b"$",
            b'{"query": "{ viewer { role } }", "variables": {"x": $}}',
            b'{"query": "query($x: [[Int]]) { viewer { role } }", "variables": {"x": $}}',
            b'{"query": "{ viewer { role } }", "extensions": $}',
        ]
    ),
    st.integers(1, 2000),
    st.sampled_from(["array", "object"]),
)


def raw_bodies() -> list[bytes]:
    bodies: list[bytes] = []

    @settings(
        max_examples=EXAMPLES * 15,
        database=None,
        deadline=None,
        derandomize=not RANDOM,
        suppress_health_check=list(HealthCheck),
        phases=[settings.default.phases[2]],
    )
    @given(body=st.one_of(JSON.map(orjson.dumps), st.binary(max_size=64), DEEP))
    def collect(body: bytes) -> None:
        bodies.append(body)

    collect()
    return bodies


async def test_fuzz_request_bodies(api: Api) -> None:
    seen: Counter[str] = Counter()
    bodies = raw_bodies()
    for body in bodies:
        for method in ("POST", "GET"):
            if method == "POST":
                response = await api.client.post(
                    "/graphql",
                    content=body,
                    headers={
                        "Authorization": f"Bearer {api.key}",
                        "Content-Type": "application/json",
                    },
                )
            else:
                params = {"query": body.decode(errors="replace")}
                response = await api.client.get(
                    "/graphql", params=params, headers={"Authorization": f"Bearer {api.key}"}
                )
            assert_no_internal_error(response, body, seen)
    print(f"\nfuzz: {len(bodies)} raw bodies x POST/GET; answers: {dict(seen)}")
