"""A browser: GraphiQL served whole by the service (no CDN), its schema loaded and a query
run from the page; and `fetch` from other origins, which CORS lets in or keeps out.

Needs Debian's Chromium: tests/http/install-chromium.sh installs it under CI=true (where every
test must run); elsewhere the test is skipped where it is absent."""

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.http.conftest import ALLOWED_ORIGIN, OTHER_ORIGIN, LiveServer, Tenant

INSTALL_CHROMIUM = Path(__file__).parent / "install-chromium.sh"


@pytest.fixture(scope="session")
def chromium() -> str:
    found = shutil.which("chromium")
    if found is None and os.environ.get("CI") == "true":
        subprocess.run(["bash", str(INSTALL_CHROMIUM)], check=True)
        found = shutil.which("chromium")
    if found is None:
        pytest.skip(f"chromium is not installed ({INSTALL_CHROMIUM.name} installs it)")
    return found


@pytest.fixture
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("graphiql")


def run_browser(
    chromium: str, live_server: LiveServer, tenant: Tenant, node_tools: Path, shot: Path
) -> Any:
    run = subprocess.run(
        [
            "node",
            "browser.mjs",
            live_server.url,
            tenant.key,
            str(shot),
            ALLOWED_ORIGIN,
            OTHER_ORIGIN,
        ],
        cwd=node_tools,
        env={"CHROMIUM": chromium, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    return json.loads(run.stdout)


def test_graphiql_works_offline_and_cors_lets_in_only_allowed_origins(
    chromium: str, live_server: LiveServer, tenant: Tenant, node_tools: Path, screenshot_dir: Path
) -> None:
    shot = screenshot_dir / "graphiql.png"
    report = run_browser(chromium, live_server, tenant, node_tools, shot)
    print(f"GraphiQL screenshot: {shot}")
    # Everything the page needed came from the service: nothing was asked of a CDN.
    assert report["offsite"] == []
    assert report["introspectionStatus"] == 200
    assert report["schemaTypes"] > 50
    assert report["result"]["data"]["viewer"] == {
        "organization": {"name": report["result"]["data"]["viewer"]["organization"]["name"]},
        "role": "ADMIN",
    }
    assert report["result"]["data"]["viewer"]["organization"]["name"].startswith("Org ")
    assert "Query" in report["docExplorer"]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    allowed = report["crossOrigin"][ALLOWED_ORIGIN]
    assert allowed["ok"], allowed
    assert allowed["status"] == 200
    assert allowed["body"]["data"]["viewer"]["role"] == "ADMIN"
    refused = report["crossOrigin"][OTHER_ORIGIN]
    assert refused == {"ok": False, "error": "TypeError: Failed to fetch"}
