"""What an operator runs: API keys from the command line (a real subprocess, as typed),
the demo's key rotated rather than piled up, contracts written where told, the health
check asking the configured port."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI

from okr_service import operator
from okr_service.auth.service import authenticate
from okr_service.cli import export_contracts
from okr_service.demo import load_demo
from okr_service.kit.db import transaction
from okr_service.kit.errors import Unauthenticated
from okr_service.kit.ids import global_id
from okr_service.kit.settings import Settings
from tests.conftest import new_organization

VIEWER = "{ viewer { organization { id } } }"


def okr_service(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OKR_")}
    return subprocess.run(
        [sys.executable, "-m", "okr_service", *args],
        env={**environment, "OKR_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def viewer_status(http: httpx.AsyncClient, key: str) -> int:
    response = await http.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {key}"}
    )
    return response.status_code


async def test_a_key_made_on_the_command_line_works_until_revoked_there(
    app: FastAPI, http: httpx.AsyncClient, database_url: str
) -> None:
    organization_id, _ = await new_organization(app)
    organization = global_id("Organization", organization_id)

    created = okr_service(
        database_url,
        "create-api-key",
        "--org", organization,
        "--scope", "read",
        "--name", "reporting",
        "--expires-in", "90d",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    issued = json.loads(created.stdout)
    assert issued["organizationId"] == organization
    assert issued["scope"] == "read"
    expires_at = datetime.fromisoformat(issued["expiresAt"])
    assert abs(expires_at - (datetime.now(UTC) + timedelta(days=90))) < timedelta(minutes=5)
    assert await viewer_status(http, issued["apiKey"]) == 200

    revoked = okr_service(database_url, "revoke-api-key", issued["apiKeyId"])
    assert revoked.returncode == 0, revoked.stderr
    assert json.loads(revoked.stdout)["apiKeyId"] == issued["apiKeyId"]
    assert await viewer_status(http, issued["apiKey"]) == 401

    refused = okr_service(database_url, "revoke-api-key", organization)  # not a key's ID
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        f"okr-service: {organization!r} names Organization, not ApiKey."
    ]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"organization": "not-an-id"}, "is not an ID"),
        ({"organization": global_id("ApiKey", UUID(int=1))}, "names ApiKey, not Organization"),
        ({"organization": str(UUID(int=7))}, "No organization"),
        ({"expires_in": "forever"}, "is not a duration"),
        ({"expires_in": "0d"}, "is not a duration"),
        ({"name": "   "}, "name: This field cannot be empty"),
    ],
)
async def test_bad_key_requests_are_refused_in_one_line(
    app: FastAPI, database_url: str, change: dict[str, Any], reason: str
) -> None:
    organization_id, _ = await new_organization(app)
    request = {
        "organization": str(organization_id),
        "scope": "write",
        "name": "ci",
        "expires_in": None,
    } | change
    with pytest.raises(operator.OperatorError, match=reason):
        await operator.create_api_key(database_url, Settings(database_url=None), **request)


async def test_revoking_an_unknown_key_says_so(database_url: str) -> None:
    unknown = global_id("ApiKey", UUID(int=42))
    with pytest.raises(operator.OperatorError, match="No API key"):
        await operator.revoke_api_key(database_url, Settings(database_url=None), unknown)


async def test_each_demo_start_rotates_its_one_admin_key(app: FastAPI) -> None:
    async with transaction(app.state.sessionmaker) as db:
        first = await load_demo(db)
    async with transaction(app.state.sessionmaker) as db:
        second = await load_demo(db)
    async with transaction(app.state.sessionmaker) as db:
        with pytest.raises(Unauthenticated):
            await authenticate(db, first)
        assert (await authenticate(db, second)).actor_name == "demo admin"


def test_contracts_are_written_where_told(tmp_path: Path) -> None:
    export_contracts(tmp_path)
    assert "type Query" in (tmp_path / "schema" / "schema.graphql").read_text()
    assert json.loads((tmp_path / "openapi" / "openapi.json").read_text())["paths"]["/metrics"]
    assert not (tmp_path / "README.md").exists()  # no README there: none written
