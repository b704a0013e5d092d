"""`okr-service dev-token`: a user token a `serve --demo` trusts, and no other server does."""

import os
import re
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from okr_service.auth.dev_tokens import KEY_FILE
from okr_service.cli import print_dev_token
from okr_service.kit.settings import get_settings
from tests.http.conftest import LiveServer, free_port, wait_until_ready

VIEWER = "{ viewer { role actorName organization { name } } }"
TEAMS = "{ teams(first: 50) { edges { node { id name } } } }"
CREATE_TEAM = 'mutation { createTeam(input: {name: "Rogue"}) { team { id } userErrors { code } } }'


@dataclass(frozen=True)
class Demo:
    server: LiveServer
    admin_key: str
    data_dir: Path
    env: dict[str, str]


def cli() -> list[str]:
    return [sys.executable, "-m", "okr_service"]  # `okr-service`, from this checkout


@pytest.fixture(scope="module")
def demo(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """`okr-service serve --demo` as a developer starts it, on the run's database."""
    data_dir = tmp_path_factory.mktemp("demo-data")
    env = {
        **os.environ,
        "OKR_DATABASE_URL": database_url,
        "OKR_DATA_DIR": str(data_dir),
        "OKR_WEBHOOK_WORKER_IN_PROCESS": "false",
    }
    port = free_port()
    log = data_dir / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*cli(), "serve", "--demo", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(f"http://127.0.0.1:{port}")
    try:
        wait_until_ready(server.url, process)
        found = re.search(r"^\s+(okr_\S+)$", log.read_text(), re.MULTILINE)
        assert found, log.read_text()
        yield Demo(server, found.group(1), data_dir, env)
    finally:
        process.terminate()
        process.wait(timeout=10)


def ask(server: LiveServer, token: str, query: str) -> httpx.Response:
    return httpx.post(
        server.graphql,
        json={"query": query},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def data(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    found: dict[str, Any] = body["data"]
    return found


def dev_token(demo: Demo, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cli(), "dev-token", *args],
        env=demo.env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def team_id(demo: Demo, name: str) -> str:
    teams = data(ask(demo.server, demo.admin_key, TEAMS))["teams"]["edges"]
    return next(edge["node"]["id"] for edge in teams if edge["node"]["name"] == name)


def test_an_editor_token_works_on_the_demo_with_its_role_and_teams(demo: Demo) -> None:
    squad = team_id(demo, "Onboarding squad")
    minted = dev_token(demo, "--role", "editor", "--team", squad, "--name", "Frontend Dev")
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    assert token.count(".") == 2
    viewer = data(ask(demo.server, token, VIEWER))["viewer"]
    assert viewer == {
        "role": "EDITOR",
        "actorName": "Frontend Dev",
        "organization": {"name": "Acme Demo"},
    }
    # An editor of a team, not an admin: the organization's structure is refused.
    refused = data(ask(demo.server, token, CREATE_TEAM))["createTeam"]
    assert refused == {"team": None, "userErrors": [{"code": "FORBIDDEN"}]}


def test_a_viewer_token_reads_only(demo: Demo) -> None:
    token = dev_token(demo, "--role", "viewer").stdout.strip()
    assert data(ask(demo.server, token, VIEWER))["viewer"]["role"] == "VIEWER"
    refused = data(ask(demo.server, token, CREATE_TEAM))["createTeam"]
    assert refused["userErrors"] == [{"code": "FORBIDDEN"}]


def test_the_signing_key_is_readable_by_its_owner_only(demo: Demo) -> None:
    mode = stat.S_IMODE((demo.data_dir / KEY_FILE).stat().st_mode)
    assert mode == 0o600


def test_a_server_without_demo_refuses_dev_tokens(demo: Demo, live_server: LiveServer) -> None:
    token = dev_token(demo, "--role", "admin").stdout.strip()
    assert data(ask(demo.server, token, VIEWER))["viewer"]["role"] == "ADMIN"
    response = ask(live_server, token, VIEWER)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.fixture
def settings_of(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], None]]:
    """Point the in-process CLI's settings at a data folder."""

    def use(data_dir: Path) -> None:
        monkeypatch.setenv("OKR_DATA_DIR", str(data_dir))
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"teams": ["not-an-id"]}, "--team takes a team's ID"),
        ({"teams": ["VGVhbTpub3QtYS11dWlk"]}, "--team takes a team's ID"),  # Team:not-a-uuid
        ({"minutes": 0}, "1 to 1440 minutes"),
        ({"minutes": 100_000}, "1 to 1440 minutes"),
    ],
)
def test_bad_arguments_say_why(
    demo: Demo,
    settings_of: Callable[[Path], None],
    capsys: pytest.CaptureFixture[str],
    args: dict[str, Any],
    message: str,
) -> None:
    settings_of(demo.data_dir)
    with pytest.raises(SystemExit) as exited:
        print_dev_token(**{"role": "editor", "teams": [], "name": "Dev", "minutes": 60, **args})
    assert message in str(exited.value.code)
    assert capsys.readouterr().out == ""


def test_without_a_demo_there_is_no_token(
    settings_of: Callable[[Path], None], tmp_path: Path
) -> None:
    settings_of(tmp_path)
    with pytest.raises(SystemExit) as exited:
        print_dev_token("editor", [], "Dev", 60)
    assert "start `okr-service serve --demo` first" in str(exited.value.code)
