"""Every text a mutation takes is stored as validation returned it: trimmed (all Unicode
white space, U+3000 included), its length checked on the trimmed value. A value padded
past its column's length is stored trimmed, never cut by PostgreSQL nor overflowing it
(a 500); a value too long once trimmed is a user error.

The test walks the committed schema's mutation inputs, so a String field added to an
input is exercised the day it appears, and a new mutation taking text fails here until
VALID_INPUTS has an input for it.
"""

from collections.abc import Awaitable, Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from graphql import (
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    get_named_type,
)

from tests import factories
from tests.conftest import Api
from tests.webhooks.conftest import settings_changed

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schema" / "schema.graphql"
TextPath = tuple[str, ...]  # a String field of a mutation's input, nested inputs spelled out

# Padding a valid value: each must be stored as the value itself.
PADDINGS: dict[str, Callable[[str], str]] = {
    "ascii both sides": lambda value: f"  {value}  ",
    "300 ascii spaces": lambda value: value + " " * 300,  # PostgreSQL would cut it to fit
    "300 ideographic spaces": lambda value: value + "\u3000" * 300,  # would overflow: a 500
    "mixed white space": lambda value: "\u3000\u00a0\t" + value + "\n\u2003",
}
TOO_LONG = "x" * 10_001  # longer than every text limit, once trimmed too


@cache
def schema() -> GraphQLSchema:
    return build_schema(SCHEMA_PATH.read_text())


def text_paths(input_type: GraphQLInputObjectType, prefix: TextPath = ()) -> Iterator[TextPath]:
    """Every String (or [String]) field of `input_type`, nested input types walked."""
    for name, field in input_type.fields.items():
        named = get_named_type(field.type)
        if isinstance(named, GraphQLInputObjectType):
            yield from text_paths(named, (*prefix, name))
        elif named.name == "String":
            yield (*prefix, name)


def mutations_taking_text() -> dict[str, list[TextPath]]:
    mutation = schema().mutation_type
    assert mutation is not None
    found = {}
    for name, field in mutation.fields.items():
        input_type = get_named_type(field.args["input"].type) if "input" in field.args else None
        if isinstance(input_type, GraphQLInputObjectType):
            paths = list(text_paths(input_type))
            if paths:
                found[name] = paths
    return found


def payload_object(mutation: str, path: TextPath) -> tuple[str, GraphQLObjectType] | None:
    """The payload field holding the object `path` is stored on (a check-in's payload also
    holds its key result), or None when that object does not show the field."""
    mutation_type = schema().mutation_type
    assert mutation_type is not None
    payload = get_named_type(mutation_type.fields[mutation].type)
    assert isinstance(payload, GraphQLObjectType)
    for name, field in payload.fields.items():
        object_type = get_named_type(field.type)
        if isinstance(object_type, GraphQLObjectType) and path[0] in object_type.fields:
            return name, object_type
    return None


World = dict[str, str]
ValidInput = Callable[[Api, World], Awaitable[dict[str, Any]]]


async def closable_cycle(api: Api, _: World) -> dict[str, Any]:
    notes = {"accelerators": "Pairing", "blockers": "Hiring", "lessons": "Fewer bets"}
    return {"cycleId": await factories.cycle(api, "To close"), "retrospective": notes}


def given(input_: dict[str, Any] | Callable[[World], dict[str, Any]]) -> ValidInput:
    async def build(_: Api, world: World) -> dict[str, Any]:
        return input_(world) if callable(input_) else input_

    return build


EXTERNAL_REF = {"system": "jira", "key": "OKR-12", "url": "https://jira.example.com/OKR-12"}
WEBHOOK = {
    "url": "http://127.0.0.1:9/okr",
    "description": "Roadmap sync",
    "eventTypes": ["key_result.checked_in"],
}
# A valid input of every mutation taking text, every text field set.
VALID_INPUTS: dict[str, ValidInput] = {
    "createTeam": given({"name": "Growth"}),
    "updateTeam": given(lambda w: {"id": w["team"], "name": "Growth"}),
    "createCycle": given({"name": "Q3", "startsOn": "2026-07-01", "endsOn": "2026-09-30"}),
    "updateCycle": given(lambda w: {"id": w["cycle"], "name": "Q1"}),
    "closeCycle": closable_cycle,
    "createObjective": given(
        lambda w: {
            "teamId": w["team"],
            "cycleId": w["cycle"],
            "title": "Delight",
            "description": "Why it matters",
            "owner": "Ada",
        }
    ),
    "updateObjective": given(
        lambda w: {"id": w["objective"], "title": "Delight", "description": "Why", "owner": "Ada"}
    ),
    "createKeyResult": given(
        lambda w: {
            "objectiveId": w["objective"],
            "title": "Raise NPS",
            "targetValue": 5,
            "unit": "%",
        }
    ),
    "updateKeyResult": given(lambda w: {"id": w["key_result"], "title": "Raise NPS", "unit": "%"}),
    "recordCheckIn": given(
        lambda w: {
            "keyResultId": w["key_result"],
            "value": 12,
            "note": "Tour shipped",
            "blockers": "None",
            "supportNeeded": "Design review",
        }
    ),
    "createInitiative": given(
        lambda w: {
            "teamId": w["team"],
            "title": "Tour",
            "description": "Guided tour",
            "externalRef": EXTERNAL_REF,
        }
    ),
    "updateInitiative": given(
        lambda w: {
            "id": w["initiative"],
            "title": "Tour",
            "description": "Guided tour",
            "externalRef": EXTERNAL_REF,
        }
    ),
    "createApiKey": given({"name": "Metrics pipeline", "scopes": ["WRITE"]}),
    "createWebhookEndpoint": given(WEBHOOK),
    "updateWebhookEndpoint": given(lambda w: {"id": w["webhook"], **WEBHOOK}),
    "createIntegration": given(
        {"provider": "LINEAR", "name": "Linear roadmap", "signingSecret": "lin_wh_" + "a" * 32}
    ),
    "updateIntegration": given(lambda w: {"id": w["integration"], "name": "Linear roadmap"}),
    "rotateIntegrationSecret": given(
        lambda w: {"id": w["integration"], "signingSecret": "lin_wh_" + "b" * 32}
    ),
}
# Write-only texts (secrets): read back from the payload field showing them once.
SHOWN_ONCE = {"signingSecret": "secret"}


def at(value: dict[str, Any], path: TextPath) -> Any:
    for name in path:
        value = value[name]
    return value


def replaced(input_: dict[str, Any], path: TextPath, text: str) -> dict[str, Any]:
    """`input_` with the text at `path` replaced (in a list: its only item)."""
    head, *rest = path
    if rest:
        return {**input_, head: replaced(input_[head], tuple(rest), text)}
    return {**input_, head: [text] if isinstance(input_[head], list) else text}


def selection(path: TextPath) -> str:
    head, *rest = path
    return f"{head} {{ {selection(tuple(rest))} }}" if rest else head


async def send(api: Api, mutation: str, input_: dict[str, Any], path: TextPath) -> Any:
    """Run the mutation (a GraphQL error, such as a 500, fails the test); returns its user
    error codes, or the text now stored at `path`, read back from the database."""
    if path[0] in SHOWN_ONCE:
        payload = await api.mutate(mutation, input_, SHOWN_ONCE[path[0]])
        if payload["userErrors"]:
            return {error["code"] for error in payload["userErrors"]}
        return payload[SHOWN_ONCE[path[0]]]
    found = payload_object(mutation, path)
    object_field = found[0] if found else "cycle"  # a retrospective: read from the report
    payload = await api.mutate(mutation, input_, f"{object_field} {{ id }}")
    if payload["userErrors"]:
        return {error["code"] for error in payload["userErrors"]}
    object_id = payload[object_field]["id"]
    if found is None:
        assert path[0] == "retrospective", (mutation, path)
        query = f"query($id: ID!) {{ cycleReport(cycleId: $id) {{ {selection(path)} }} }}"
        return at((await api.query(query, {"id": object_id}))["cycleReport"], path)
    type_name = found[1].name
    data = await api.query(
        f"query($id: ID!) {{ node(id: $id) {{ ... on {type_name} {{ {selection(path)} }} }} }}",
        {"id": object_id},
    )
    return at(data["node"], path)


@pytest.fixture
async def world(api: Api, app: FastAPI) -> World:
    ids = await factories.okr(api)
    ids["initiative"] = await factories.initiative(api, ids["team"])
    with settings_changed(app, webhook_allowed_cidrs="127.0.0.1/32", webhook_allow_http=True):
        payload = await api.mutate("createWebhookEndpoint", WEBHOOK, "webhookEndpoint { id }")
    ids["webhook"] = payload["webhookEndpoint"]["id"]
    integration = await api.mutate(
        "createIntegration", {"provider": "GITHUB", "name": "GitHub"}, "integration { id }"
    )
    ids["integration"] = integration["integration"]["id"]
    return ids


def test_every_mutation_taking_text_has_a_valid_input() -> None:
    taking_text = mutations_taking_text()
    assert set(taking_text) == set(VALID_INPUTS)


@pytest.mark.parametrize("mutation", sorted(VALID_INPUTS))
async def test_text_is_stored_as_validated(
    api: Api, app: FastAPI, world: World, mutation: str
) -> None:
    with settings_changed(app, webhook_allowed_cidrs="127.0.0.1/32", webhook_allow_http=True):
        for path in mutations_taking_text()[mutation]:
            valid = await VALID_INPUTS[mutation](api, world)
            text = at(valid, path)
            text = text[0] if isinstance(text, list) else text
            for padding, pad in PADDINGS.items():
                input_ = replaced(await VALID_INPUTS[mutation](api, world), path, pad(text))
                stored = await send(api, mutation, input_, path)
                expected = [text] if isinstance(at(valid, path), list) else text
                assert stored == expected, (mutation, path, padding)
            input_ = replaced(valid, path, TOO_LONG)
            codes = await send(api, mutation, input_, path)
            assert isinstance(codes, set), (mutation, path, "stored")
            assert codes <= {"TOO_LONG", "INVALID_VALUE"}, (mutation, path, codes)
