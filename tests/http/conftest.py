"""The service as clients meet it: uvicorn on a free port of 127.0.0.1, the run's database,
a real key; and the npm tools the tests drive it with (installed once per machine)."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI

from tests import npm
from tests.conftest import new_organization

NODE_DIR = Path(__file__).parent / "node"


@dataclass(frozen=True)
class LiveServer:
    url: str  # http://127.0.0.1:<port>

    @property
    def graphql(self) -> str:
        return f"{self.url}/graphql"


@dataclass(frozen=True)
class Tenant:
    organization_id: UUID
    key: str


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# The origin the live server lets browsers call it from (tests/http/test_browser.py), and
# one it does not: frontends served on this machine (Chromium keeps a page of a public
# origin from local addresses, whatever CORS says).
ALLOWED_ORIGIN = f"http://localhost:{free_port()}"
OTHER_ORIGIN = f"http://localhost:{free_port()}"


# What uvicorn, Strawberry's WebSocket handlers and the error masking log on a server error.
SERVER_ERRORS = ("Exception in ASGI application", "Exception in worker task", "Unexpected error")


def wait_until_ready(url: str, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"uvicorn did not answer on {url} in {seconds} s")


@pytest.fixture(scope="session")
def live_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One uvicorn process for the session, configured only through `OKR_*` variables."""
    port = free_port()
    env = {
        **os.environ,
        "OKR_DATABASE_URL": database_url,
        "OKR_WEBHOOK_WORKER_IN_PROCESS": "false",
        "OKR_CORS_ORIGINS": f'["{ALLOWED_ORIGIN}"]',
        "OKR_SUBSCRIPTION_POLL_INTERVAL_SECONDS": "1",  # NOTIFY wakes the feeds first
        "OKR_MAX_SUBSCRIPTIONS_PER_CONNECTION": "3",
        "OKR_MAX_SUBSCRIPTIONS_PER_KEY": "4",
        "OKR_LOG_LEVEL": "WARNING",
    }
    log = tmp_path_factory.mktemp("live") / "uvicorn.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "okr_service.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(f"http://127.0.0.1:{port}")
    try:
        wait_until_ready(server.url, process)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=10)
    # Nothing the tests did (a WebSocket upgrade, a client leaving mid-subscription...) was
    # a server error.
    logged = log.read_text()
    for failure in SERVER_ERRORS:
        assert failure not in logged, logged[-4000:]


@pytest.fixture
async def tenant(app: FastAPI) -> Tenant:
    """A fresh organization and its admin key (made on the run's database)."""
    organization_id, key = await new_organization(app)
    return Tenant(organization_id, key)


@pytest.fixture(scope="session")
def node_tools() -> Path:
    """tests/http/node with its locked npm packages installed (once per machine)."""
    npm.installed(NODE_DIR)
    return NODE_DIR
