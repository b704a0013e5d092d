"""One health per object at one moment: the field, the filter, the cycle report and what
events last announced agree, for key results and objectives in every progress mode, in
past, current and future cycles."""

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from okr_service.cycles.sweep import sweep_organization
from okr_service.kit.db import transaction
from tests import factories
from tests.conftest import Api, ManualClock
from tests.reports.support import check_in, contributes, cycle, cycle_report, uuid_of

HEALTHS = ("ON_TRACK", "AT_RISK", "OFF_TRACK")
CYCLES = {"past": (-120, -30), "current": (-45, 45), "future": (30, 120)}
# The parent's own key result stands at 0.3, its contributor at 0.95: KEY_RESULTS reads
# 0.3, ALIGNED 0.95, BOTH (0.3 + 0.95) / 2. Expected progress: 1 (past), 0.505, 0 (future).
PARENT_HEALTH = {
    ("past", "KEY_RESULTS"): "OFF_TRACK",
    ("past", "ALIGNED"): "ON_TRACK",
    ("past", "BOTH"): "OFF_TRACK",
    ("current", "KEY_RESULTS"): "AT_RISK",
    ("current", "ALIGNED"): "ON_TRACK",
    ("current", "BOTH"): "ON_TRACK",
    ("future", "KEY_RESULTS"): "ON_TRACK",
    ("future", "ALIGNED"): "ON_TRACK",
    ("future", "BOTH"): "ON_TRACK",
}


async def fields(api: Api, ids: list[str]) -> dict[str, str]:
    """Each object's `health` field, all in one request (one moment)."""
    selection = "{ id ... on KeyResult { health } ... on Objective { health } }"
    lookups = " ".join(f'n{n}: node(id: "{id_}") {selection}' for n, id_ in enumerate(ids))
    data = await api.query(f"{{ {lookups} }}")
    return {node["id"]: node["health"] for node in data.values()}


async def filtered(api: Api, connection: str, filter_: dict[str, Any]) -> dict[str, str]:
    """Which health filter lists each object: exactly one must."""
    found: dict[str, str] = {}
    for health in HEALTHS:
        data = await api.query(
            f"query($f: {connection[0].upper()}{connection[1:-1]}Filter)"
            f" {{ {connection}(filter: $f) {{ edges {{ node {{ id }} }} }} }}",
            {"f": {**filter_, "health": health}},
        )
        for edge in data[connection]["edges"]:
            assert edge["node"]["id"] not in found, "listed under two healths"
            found[edge["node"]["id"]] = health
    return found


async def stored(engine: AsyncEngine, table: str, ids: list[str]) -> dict[str, str]:
    """The health events last announced (the stored column)."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(f"SELECT id, health FROM {table} WHERE id = ANY(:ids)"),
            {"ids": [uuid_of(id_) for id_ in ids]},
        )
        by_uuid = {row.id: row.health for row in rows}
    return {id_: by_uuid[uuid_of(id_)] for id_ in ids}


@pytest.mark.parametrize("mode", ["KEY_RESULTS", "ALIGNED", "BOTH"])
@pytest.mark.parametrize("when", list(CYCLES))
async def test_field_filter_report_and_events_agree(
    api: Api, app: FastAPI, engine: AsyncEngine, clock: ManualClock, when: str, mode: str
) -> None:
    team = await factories.team(api)
    cycle_id = await cycle(api, when, *CYCLES[when])
    parent = await factories.objective(api, team, cycle_id, "Lead", progressMode=mode)
    child = await factories.objective(api, team, cycle_id, "Support")
    own = await factories.key_result(api, parent, "Own", 10, 20)
    lifted = await factories.key_result(api, child, "Lifted", 0, 100)
    await check_in(api, own, 13)
    await check_in(api, lifted, 95)
    await contributes(api, child, objective=parent)

    key_results = await fields(api, [own, lifted])
    objectives = await fields(api, [parent, child])
    assert objectives[parent] == PARENT_HEALTH[(when, mode)]
    assert await filtered(api, "keyResults", {}) == key_results
    assert await filtered(api, "objectives", {"cycleId": cycle_id}) == objectives

    report = await cycle_report(api, cycle_id)
    counts = {health: list(key_results.values()).count(health) for health in HEALTHS}
    assert (report["onTrackCount"], report["atRiskCount"], report["offTrackCount"]) == (
        counts["ON_TRACK"],
        counts["AT_RISK"],
        counts["OFF_TRACK"],
    )
    titles = {own: "Own", lifted: "Lifted"}
    lagging = {titles[id_] for id_, health in key_results.items() if health != "ON_TRACK"}
    assert {line["title"] for line in report["atRisk"]} == lagging

    # After a sweep, what events announced is what the fields say. Only this organization
    # is swept: every other test's would be too, at a cost growing with the suite.
    async with transaction(app.state.sessionmaker) as db:
        await sweep_organization(db, api.organization_id, clock.now())
    assert await stored(engine, "key_results", [own, lifted]) == key_results
    assert await stored(engine, "objectives", [parent, child]) == objectives
    assert await fields(api, [own, lifted, parent, child]) == key_results | objectives


async def test_a_deleted_objective_measures_nothing(api: Api) -> None:
    team = await factories.team(api)
    objective = await factories.objective(api, team, await factories.cycle(api))
    await factories.key_result(api, objective)
    payload = await api.ok(
        "deleteObjective",
        {"id": objective},
        "objective { id progress score health healthReason } deletedObjectiveId",
    )
    assert payload["objective"] == {
        "id": objective,
        "progress": None,
        "score": None,
        "health": "ON_TRACK",
        "healthReason": "NOTHING_TO_MEASURE",
    }
