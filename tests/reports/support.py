"""Helpers for the review, figures and alignment API tests: dates relative to today, check-ins,
links, events. Cycles are dated around today (UTC) so expected progress is exact."""

import base64
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from okr_service.events.models import Event
from tests import factories
from tests.conftest import Api


def today() -> date:
    return datetime.now(UTC).date()


def day(offset: int) -> date:
    """Today (UTC) plus `offset` days."""
    return today() + timedelta(days=offset)


def at(offset: int, hour: int = 12) -> str:
    """An ISO time on day `offset` (relative to today), at `hour` UTC."""
    return datetime.combine(day(offset), time(hour), tzinfo=UTC).isoformat()


async def cycle(api: Api, name: str, start: int, end: int, parent_id: str | None = None) -> str:
    """A cycle from day `start` to day `end` (both relative to today, both inclusive)."""
    return await factories.cycle(
        api, name, day(start).isoformat(), day(end).isoformat(), parent_id=parent_id
    )


def uuid_of(global_id: str) -> UUID:
    return UUID(base64.b64decode(global_id).decode().split(":", 1)[1])


async def check_in(api: Api, key_result: str, value: float, **fields: Any) -> dict[str, Any]:
    return await api.ok(
        "recordCheckIn",
        {"keyResultId": key_result, "value": value, **fields},
        "checkIn { id } keyResult { id currentValue }",
    )


async def contributes(api: Api, source: str, *, objective: str = "", key_result: str = "") -> None:
    target = {"targetObjectiveId": objective} if objective else {"targetKeyResultId": key_result}
    await api.ok("createAlignment", {"sourceObjectiveId": source, **target})


async def link_initiative(api: Api, initiative: str, key_result: str, impact: float) -> None:
    await api.ok(
        "linkInitiative",
        {"initiativeId": initiative, "keyResultId": key_result, "expectedImpact": impact},
    )


async def node(api: Api, id_: str, selection: str) -> Any:
    data = await api.query(f"query($id: ID!) {{ node(id: $id) {{ {selection} }} }}", {"id": id_})
    return data["node"]


async def events(engine: AsyncEngine, organization_id: UUID, *types: str) -> list[dict[str, Any]]:
    """The organization's events of the given types, oldest first."""
    table = Event.__table__
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(table)
            .where(table.c.organization_id == organization_id, table.c.type.in_(types))
            .order_by(table.c.occurred_at, table.c.subject_id, table.c.sequence)
        )
        return [dict(row._mapping) for row in rows]


def approx(expected: Any) -> Any:
    """`expected` with every float wrapped in pytest.approx, however deeply nested."""
    if isinstance(expected, float):
        return pytest.approx(expected)
    if isinstance(expected, dict):
        return {key: approx(value) for key, value in expected.items()}
    if isinstance(expected, list):
        return [approx(value) for value in expected]
    return expected


FIGURES = (
    "keyResultCount achievedCount hitRate averageScore averageProgress"
    " healthCounts { onTrack atRisk offTrack }"
)
REPORT = (
    f"{FIGURES} objectiveCount checkInFreshness alignmentScore committedShare"
    " onTrackCount atRiskCount offTrackCount"
    f" teams {{ team {{ name }} objectiveCount {FIGURES} }}"
    " atRisk(first: 100) { totalCount pageInfo { hasNextPage } edges { node { title } } }"
    " retrospective { accelerators blockers lessons } cycle { id state }"
)


async def cycle_report(api: Api, cycle_id: str, team_id: str | None = None) -> dict[str, Any]:
    data = await api.query(
        f"query($c: ID!, $t: ID) {{ cycleReport(cycleId: $c, teamId: $t) {{ {REPORT} }} }}",
        {"c": cycle_id, "t": team_id},
    )
    report: dict[str, Any] = data["cycleReport"]
    # The at-risk page holds the whole list here: the figures compare it as a list.
    at_risk = report["atRisk"]
    assert at_risk["totalCount"] == len(at_risk["edges"])
    assert at_risk["pageInfo"]["hasNextPage"] is False
    report["atRisk"] = [edge["node"] for edge in at_risk["edges"]]
    return report


async def done(api: Api, name: str, input_: dict[str, Any], selection: str) -> dict[str, Any]:
    """Mutation `name` must succeed (for mutations the conftest helpers do not list)."""
    payload = await api.mutate(name, input_, selection)
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload


async def refused_codes(
    api: Api, name: str, input_: dict[str, Any], selection: str
) -> list[tuple[str, str]]:
    """Mutation `name` must be refused: its (field, code) user errors."""
    payload = await api.mutate(name, input_, selection)
    assert payload["userErrors"], payload
    return [(".".join(error["field"]), error["code"]) for error in payload["userErrors"]]
