"""Optimistic concurrency: an update naming an old version is refused, not applied."""

import pytest

from tests import factories
from tests.conftest import Api

VERSIONED = [
    ("updateObjective", "objective", "Objective", {"title": "Renamed"}),
    ("updateKeyResult", "keyResult", "KeyResult", {"title": "Renamed"}),
    ("updateInitiative", "initiative", "Initiative", {"title": "Renamed"}),
]


async def object_of(api: Api, type_name: str) -> str:
    ids = await factories.okr(api)
    if type_name == "Initiative":
        return await factories.initiative(api, ids["team"])
    return ids["objective" if type_name == "Objective" else "key_result"]


@pytest.mark.parametrize(("mutation", "field", "type_name", "change"), VERSIONED)
async def test_update_at_the_current_version_applies_and_bumps_it(
    api: Api, mutation: str, field: str, type_name: str, change: dict[str, str]
) -> None:
    id_ = await object_of(api, type_name)
    payload = await api.ok(
        mutation, {"id": id_, "expectedVersion": 1, **change}, f"{field} {{ title version }}"
    )
    assert payload[field] == {"title": "Renamed", "version": 2}


@pytest.mark.parametrize(("mutation", "field", "type_name", "change"), VERSIONED)
async def test_update_at_a_stale_version_is_refused_and_writes_nothing(
    api: Api, mutation: str, field: str, type_name: str, change: dict[str, str]
) -> None:
    id_ = await object_of(api, type_name)
    await api.ok(mutation, {"id": id_, "title": "First writer wins"})
    errors = await api.user_errors(mutation, {"id": id_, "expectedVersion": 1, **change})
    assert [(e["code"], e["field"]) for e in errors] == [("VERSION_CONFLICT", ["expectedVersion"])]
    data = await api.query(
        f"query($id: ID!) {{ node(id: $id) {{ ... on {type_name} {{ title version }} }} }}",
        {"id": id_},
    )
    assert data["node"] == {"title": "First writer wins", "version": 2}


async def test_update_without_expected_version_is_last_writer_wins(api: Api) -> None:
    id_ = await object_of(api, "Objective")
    await api.ok("updateObjective", {"id": id_, "title": "One"})
    payload = await api.ok(
        "updateObjective", {"id": id_, "title": "Two"}, "objective { title version }"
    )
    assert payload["objective"] == {"title": "Two", "version": 3}
