"""GraphQL over HTTP to the letter: the `graphql-http` audit against the live service, and
the answers the audit does not check (401, 405, GraphQL error bodies, limits)."""

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.http.conftest import LiveServer, Tenant

GRAPHQL_RESPONSE = "application/graphql-response+json"


@pytest.fixture(scope="session")
def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.skip("node is not installed")
    return found


def test_the_graphql_http_audit_passes_every_must_and_should(
    live_server: LiveServer, tenant: Tenant, node_tools: Path, node: str
) -> None:
    run = subprocess.run(
        [node, "audit.mjs", live_server.graphql, tenant.key],
        cwd=node_tools,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    results: list[dict[str, Any]] = json.loads(run.stdout)
    counts = {
        status: sum(result["status"] == status for result in results)
        for status in ("ok", "notice", "warn", "error")
    }
    print(f"graphql-http audit: {len(results)} audits, {counts}")
    failed = [
        result
        for result in results
        if result["status"] != "ok" and not result["name"].startswith("MAY")
    ]
    assert failed == [], json.dumps(failed, indent=2)
    assert len(results) > 50  # the whole audit ran, not a part of it


def post(
    server: LiveServer, body: bytes, headers: dict[str, str], key: str | None
) -> httpx.Response:
    auth = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(server.graphql, content=body, headers={**auth, **headers}, timeout=10)


def only_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert "data" not in body, body
    [error] = body["errors"]
    assert error["message"]
    found: dict[str, Any] = error
    return found


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
def test_a_missing_key_is_401_with_a_graphql_error_body(
    live_server: LiveServer, accept: str
) -> None:
    response = post(
        live_server,
        b'{"query": "{ __typename }"}',
        {"Content-Type": "application/json", "Accept": accept},
        key=None,
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"].startswith(accept)
    assert only_error(response)["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"query": ', "application/json", 400, "INVALID_JSON"),
        (b'{"variables": {}}', "application/json", 400, "MISSING_QUERY"),
        (b'[{"query": "{ __typename }"}]', "application/json", 400, "BATCH_NOT_SUPPORTED"),
        (b"{ __typename }", "application/graphql", 415, "UNSUPPORTED_CONTENT_TYPE"),
        (
            b"query={ __typename }",
            "application/x-www-form-urlencoded",
            415,
            "UNSUPPORTED_CONTENT_TYPE",
        ),
        (b"[" * 40 + b"]" * 40, "application/json", 400, "INPUT_TOO_DEEP"),
    ],
)
@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
def test_requests_that_are_not_graphql_get_graphql_error_bodies(
    live_server: LiveServer,
    tenant: Tenant,
    body: bytes,
    content_type: str,
    status: int,
    code: str,
    accept: str,
) -> None:
    response = post(live_server, body, {"Content-Type": content_type, "Accept": accept}, tenant.key)
    assert response.status_code == status
    assert response.headers["content-type"].startswith(accept)
    assert only_error(response)["extensions"]["code"] == code


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
def test_a_mutation_over_get_is_405_with_allow(
    live_server: LiveServer, tenant: Tenant, accept: str
) -> None:
    response = httpx.get(
        live_server.graphql,
        params={"query": 'mutation { createTeam(input: {name: "x"}) { team { id } } }'},
        headers={"Authorization": f"Bearer {tenant.key}", "Accept": accept},
        timeout=10,
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert only_error(response)["extensions"]["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize(("accept", "status"), [("application/json", 200), (GRAPHQL_RESPONSE, 400)])
@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ viewer { ", "GRAPHQL_PARSE_FAILED"),
        ("{ noSuchField }", "GRAPHQL_VALIDATION_FAILED"),
        ("{" + " ".join(f"a{i}: __typename" for i in range(40)) + " }", "TOO_MANY_ALIASES"),
    ],
)
def test_request_errors_have_no_data_and_the_status_the_media_type_asks(
    live_server: LiveServer, tenant: Tenant, accept: str, status: int, query: str, code: str
) -> None:
    response = post(
        live_server,
        json.dumps({"query": query}).encode(),
        {"Content-Type": "application/json", "Accept": accept},
        tenant.key,
    )
    assert response.status_code == status
    assert response.headers["content-type"].startswith(accept)
    assert only_error(response)["extensions"]["code"] == code


def test_a_field_error_keeps_data_and_200_with_graphql_response_json(
    live_server: LiveServer, tenant: Tenant
) -> None:
    response = post(
        live_server,
        json.dumps({"query": '{ node(id: "not-an-id") { id } }'}).encode(),
        {"Content-Type": "application/json", "Accept": GRAPHQL_RESPONSE},
        tenant.key,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"node": None}
    assert body["errors"][0]["extensions"]["code"] == "INVALID_ID"


def test_a_query_over_get_runs_with_either_media_type(
    live_server: LiveServer, tenant: Tenant
) -> None:
    for accept in ("application/json", GRAPHQL_RESPONSE):
        response = httpx.get(
            live_server.graphql,
            params={"query": "{ viewer { organization { name } } }"},
            headers={"Authorization": f"Bearer {tenant.key}", "Accept": accept},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(accept)
        assert response.json()["data"]["viewer"]["organization"]["name"].startswith("Org ")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_subscription_over_http_is_refused_not_run(
    live_server: LiveServer, tenant: Tenant, method: str
) -> None:
    query = "subscription { events { id } }"
    response = httpx.request(
        method,
        live_server.graphql,
        params={"query": query} if method == "GET" else None,
        json={"query": query} if method == "POST" else None,
        headers={"Authorization": f"Bearer {tenant.key}", "Accept": GRAPHQL_RESPONSE},
        timeout=10,
    )
    assert response.status_code == 400
    assert only_error(response)["extensions"]["code"] == "SUBSCRIPTION_OVER_HTTP"
