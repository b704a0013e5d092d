"""`Idempotency-Key`: a retried mutation returns the first answer and writes nothing again."""

import asyncio
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Api

CREATE_TEAM = (
    "mutation($input: CreateTeamInput!) { createTeam(input: $input) {"
    " team { id name } userErrors { field code } } }"
)


async def send(api: Api, key: str, name: str) -> httpx.Response:
    return await api.post(
        CREATE_TEAM, {"input": {"name": name}}, headers_extra={"Idempotency-Key": key}
    )


async def team_names(api: Api, engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT name FROM teams WHERE organization_id = :org ORDER BY id"),
            {"org": api.organization_id},
        )
        return [name for (name,) in rows]


async def created_events(api: Api, engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        found = await connection.execute(
            text(
                "SELECT count(*) FROM events WHERE organization_id = :org AND type = 'team.created'"
            ),
            {"org": api.organization_id},
        )
        return int(found.scalar_one())


async def test_a_retry_gets_the_first_answer_and_writes_nothing(
    api: Api, engine: AsyncEngine
) -> None:
    first = await send(api, "retry-1", "Growth")
    again = await send(api, "retry-1", "Growth")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await team_names(api, engine) == ["Growth"]
    assert await created_events(api, engine) == 1


async def test_the_same_key_with_another_body_is_refused(api: Api, engine: AsyncEngine) -> None:
    await send(api, "retry-2", "Growth")
    response = await send(api, "retry-2", "Platform")
    assert response.status_code == 422
    assert response.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await team_names(api, engine) == ["Growth"]


async def test_a_refused_request_leaves_the_key_free(api: Api, engine: AsyncEngine) -> None:
    refused = (await send(api, "retry-3", " ")).json()
    assert refused["data"]["createTeam"]["userErrors"] == [{"field": ["name"], "code": "REQUIRED"}]
    again = await send(api, "retry-3", " ")
    assert "Idempotent-Replayed" not in again.headers
    assert await team_names(api, engine) == []


async def test_concurrent_retries_write_once(api: Api, engine: AsyncEngine) -> None:
    responses = await asyncio.gather(*(send(api, "burst", "Growth") for _ in range(5)))
    bodies: list[Any] = [response.json() for response in responses]
    assert all(body == bodies[0] for body in bodies)
    assert sum("Idempotent-Replayed" in r.headers for r in responses) == 4
    assert await team_names(api, engine) == ["Growth"]


async def test_keys_belong_to_one_organization(
    api: Api, other_api: Api, engine: AsyncEngine
) -> None:
    await send(api, "shared-name", "Growth")
    response = await send(other_api, "shared-name", "Growth")
    assert "Idempotent-Replayed" not in response.headers
    assert await team_names(other_api, engine) == ["Growth"]


async def test_a_key_over_255_characters_is_a_bad_request(api: Api) -> None:
    response = await send(api, "k" * 256, "Growth")
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_IDEMPOTENCY_KEY"
