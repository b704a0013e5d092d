"""`okr-service serve --workers 2` as an operator runs it (a real subprocess): JSON logs
line by line from every process, the service's own lines included, and /metrics counting
the requests of both workers whichever answers the scrape."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from okr_service.kit.probe import is_ready
from tests.conftest import new_organization

REQUESTS = 24
PROBE = "query ServeProbe { teams(first: 1) { edges { node { id } } } }"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    port: int
    stderr: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_lines(self) -> list[str]:
        return [line for line in self.stderr.read_text().splitlines() if line.strip()]


def wait_until_ready(server: Server, within: float = 120.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert server.process.poll() is None, "\n".join(server.log_lines()[-20:])
        try:
            if httpx.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server never became ready")


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OKR_", "PROMETHEUS_", "OTEL_"))
    }
    environment |= {
        "OKR_DATABASE_URL": database_url,
        "OKR_LOG_FORMAT": "json",
        "OKR_LOG_LEVEL": "INFO",
        "OKR_AUTH_FAILURE_RATE_PER_SECOND": "0",
        "OKR_HEALTH_SWEEP_INTERVAL_SECONDS": "3600",
    }
    stderr = tmp_path / "stderr.log"
    with stderr.open("wb") as errors:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "okr_service",
                "serve",
                "--no-migrate",
                "--workers",
                "2",
                "--port",
                str(port),
            ],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
    server = Server(port, stderr, process)
    try:
        wait_until_ready(server)
        yield server
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def operation_count(text: str, name: str) -> float:
    for family in text_string_to_metric_families(text):
        if family.name == "okr_graphql_operation_duration_seconds":
            return sum(
                sample.value
                for sample in family.samples
                if sample.name.endswith("_count") and sample.labels["operation_name"] == name
            )
    return 0.0


async def test_two_workers_log_json_lines_and_count_together(served: Server, app: FastAPI) -> None:
    organization_id, key = await new_organization(app)
    bearer = {"Authorization": f"Bearer {key}"}
    # A fresh connection per request: the kernel spreads them over both workers.
    fresh_connections = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=served.url, limits=fresh_connections) as client:
        for number in range(REQUESTS):
            response = await client.post(
                "/graphql",
                json={"query": PROBE},
                headers={**bearer, "X-Request-ID": f"probe-{number}"},
            )
            assert response.status_code == 200, response.text
            assert response.headers["x-request-id"] == f"probe-{number}"
        # Bad input of several kinds: answered, logged as a request, never with a traceback.
        json_type = {"Content-Type": "application/json"}
        bad = [
            await client.post("/graphql", content=b"{not json", headers={**bearer, **json_type}),
            await client.post("/graphql", json={"query": "{ teams { "}, headers=bearer),
            await client.post(
                "/graphql", json={"query": PROBE, "variables": nested(64)}, headers=bearer
            ),
            await client.post("/graphql", json={"query": PROBE}),
            await client.post(
                "/graphql", json={"query": PROBE}, headers={"Authorization": "Bearer okr_made_up"}
            ),
        ]
        assert all(response.status_code >= 400 or response.json()["errors"] for response in bad)
        # Whichever worker answers a scrape, it counts the requests of both.
        scrapes = [(await client.get("/metrics")).text for _ in range(6)]
    assert {operation_count(text, "ServeProbe") for text in scrapes} == {REQUESTS}
    # The container's health check asks the port the server listens on.
    assert is_ready(served.port)
    assert not is_ready(free_port())

    served.process.send_signal(signal.SIGINT)
    served.process.wait(timeout=30)
    lines = served.log_lines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(isinstance(record, dict) for record in records)
    events = [record.get("event") for record in records]
    # The service's own INFO lines, from each worker process.
    assert events.count("webhook delivery worker started") == 2
    assert any(record.get("logger") == "uvicorn.error" for record in records)
    requests = {
        record["request_id"]: record for record in records if record.get("event") == "request"
    }
    probe = requests["probe-3"]
    assert probe["organization"] == str(organization_id)
    assert probe["operation_type"] == "query"
    assert probe["operation_name"] == "ServeProbe"
    assert probe["status"] == 200
    assert probe["duration_ms"] > 0
    assert len([record for record in requests.values() if record["status"] >= 400]) >= 3
    assert not [record for record in records if has_traceback(record)]


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def has_traceback(record: dict[str, Any]) -> bool:
    return "exception" in record or "Traceback" in json.dumps(record)
