"""Admins issue, list and revoke API keys; secrets are shown once and stored nowhere."""

from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from okr_service.kit.principal import Scope
from tests.conftest import Api, new_organization

CREATE = (
    "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {"
    " apiKey { id name scopes expiresAt revokedAt } secret userErrors { field code } } }"
)
REVOKE = (
    "mutation($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) {"
    " apiKey { id revokedAt } userErrors { field code } } }"
)


async def issue(api: Api, **input_: object) -> dict[str, object]:
    data = await api.query(
        CREATE, {"input": {"name": "metrics pipeline", "scopes": ["WRITE"], **input_}}
    )
    payload: dict[str, object] = data["createApiKey"]
    return payload


async def test_an_issued_key_works_with_its_scopes_and_is_listed_without_secret(
    api: Api, engine: AsyncEngine
) -> None:
    payload = await issue(api, scopes=["READ"])
    assert payload["userErrors"] == []
    secret = str(payload["secret"])
    assert secret.startswith("okr_")
    reader = Api(api.client, api.organization_id, secret)
    viewer = await reader.query("{ viewer { scopes actorName } }")
    assert viewer["viewer"] == {"scopes": ["READ"], "actorName": "metrics pipeline"}
    refused = await reader.mutate("createTeam", {"name": "Nope"}, "team { id }")
    assert [e["code"] for e in refused["userErrors"]] == ["FORBIDDEN"]

    listed = await api.query("{ apiKeys { edges { node { id name scopes revokedAt } } } }")
    names = [edge["node"]["name"] for edge in listed["apiKeys"]["edges"]]
    assert names == ["admin", "metrics pipeline"]
    async with engine.connect() as connection:
        stored = await connection.execute(
            text("SELECT count(*) FROM events WHERE data::text LIKE :secret"),
            {"secret": f"%{secret}%"},
        )
        assert stored.scalar_one() == 0


async def test_a_revoked_key_is_refused_at_once(api: Api) -> None:
    payload = await issue(api)
    key = Api(api.client, api.organization_id, str(payload["secret"]))
    assert (await key.post("{ viewer { actorName } }")).status_code == 200
    key_id = payload["apiKey"]["id"]  # type: ignore[index]
    revoked = await api.query(REVOKE, {"input": {"id": key_id}})
    assert revoked["revokeApiKey"]["apiKey"]["revokedAt"] is not None
    response = await key.post("{ viewer { actorName } }")
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_an_expired_key_is_refused(api: Api, engine: AsyncEngine) -> None:
    payload = await issue(api, expiresAt=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    assert payload["userErrors"] == []
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE name = :name"
                " AND organization_id = :org"
            ),
            {"name": "metrics pipeline", "org": api.organization_id},
        )
    key = Api(api.client, api.organization_id, str(payload["secret"]))
    assert (await key.post("{ viewer { actorName } }")).status_code == 401


async def test_bad_key_requests_are_user_errors(api: Api, other_api: Api) -> None:
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    for input_, field, code in (
        ({"name": " "}, "name", "REQUIRED"),
        ({"scopes": []}, "scopes", "REQUIRED"),
        ({"expiresAt": past}, "expiresAt", "INVALID_VALUE"),
    ):
        payload = await issue(api, **input_)
        assert payload["apiKey"] is None
        assert payload["userErrors"] == [{"field": [field], "code": code}]
    foreign = (await issue(other_api))["apiKey"]["id"]  # type: ignore[index]
    revoked = await api.query(REVOKE, {"input": {"id": foreign}})
    assert revoked["revokeApiKey"]["userErrors"] == [{"field": ["id"], "code": "NOT_FOUND"}]


async def test_only_admins_manage_keys(app: FastAPI, api: Api) -> None:
    _, write_key = await new_organization(app, [Scope.WRITE])
    writer = Api(api.client, api.organization_id, write_key)
    payload = (await writer.query(CREATE, {"input": {"name": "x", "scopes": ["READ"]}}))[
        "createApiKey"
    ]
    assert [e["code"] for e in payload["userErrors"]] == ["FORBIDDEN"]
    errors = await writer.errors("{ apiKeys { edges { node { id } } } }")
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
