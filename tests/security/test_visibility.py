"""What only admins may see stays hidden from read and write keys, in the event log too."""

from tests.conftest import Api

TRAIL = "{ events(first: 100) { edges { node { type } } } }"


async def key_with(api: Api, scope: str) -> tuple[str, str]:
    data = await api.query(
        "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input)"
        " { apiKey { id } secret } }",
        {"input": {"name": f"{scope.lower()} key", "scopes": [scope]}},
    )
    return data["createApiKey"]["apiKey"]["id"], data["createApiKey"]["secret"]


async def test_events_and_nodes_of_keys_are_for_admins_only(api: Api) -> None:
    key_id, secret = await key_with(api, "WRITE")
    await api.ok("createTeam", {"name": "Growth"})
    admin_types = {e["node"]["type"] for e in (await api.query(TRAIL))["events"]["edges"]}
    assert {"api_key.created", "team.created"} <= admin_types

    writer = Api(api.client, api.organization_id, secret)
    writer_types = {e["node"]["type"] for e in (await writer.query(TRAIL))["events"]["edges"]}
    assert "team.created" in writer_types
    assert not {t for t in writer_types if t.startswith("api_key.")}

    errors = await writer.errors("query($id: ID!) { node(id: $id) { id } }", {"id": key_id})
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
