"""Build OKR objects through the public API, with sensible defaults."""

from typing import Any

from tests.conftest import Api


async def team(api: Api, name: str = "Team", parent_id: str | None = None) -> str:
    payload = await api.ok("createTeam", {"name": name, "parentId": parent_id})
    return str(payload["team"]["id"])


async def cycle(
    api: Api,
    name: str = "Q1",
    starts_on: str = "2026-01-01",
    ends_on: str = "2026-03-31",
    parent_id: str | None = None,
) -> str:
    payload = await api.ok(
        "createCycle",
        {"name": name, "startsOn": starts_on, "endsOn": ends_on, "parentId": parent_id},
    )
    return str(payload["cycle"]["id"])


async def objective(
    api: Api, team_id: str, cycle_id: str, title: str = "Delight new customers", **fields: Any
) -> str:
    payload = await api.ok(
        "createObjective", {"title": title, "teamId": team_id, "cycleId": cycle_id, **fields}
    )
    return str(payload["objective"]["id"])


async def key_result(
    api: Api,
    objective_id: str,
    title: str = "Raise activation",
    start_value: float = 10,
    target_value: float = 20,
    **fields: Any,
) -> str:
    payload = await api.ok(
        "createKeyResult",
        {
            "objectiveId": objective_id,
            "title": title,
            "startValue": start_value,
            "targetValue": target_value,
            **fields,
        },
    )
    return str(payload["keyResult"]["id"])


async def initiative(api: Api, team_id: str, title: str = "Product tour", **fields: Any) -> str:
    payload = await api.ok("createInitiative", {"title": title, "teamId": team_id, **fields})
    return str(payload["initiative"]["id"])


async def okr(api: Api) -> dict[str, str]:
    """A team, a cycle, an objective and one key result."""
    team_id = await team(api)
    cycle_id = await cycle(api)
    objective_id = await objective(api, team_id, cycle_id)
    key_result_id = await key_result(api, objective_id)
    return {
        "team": team_id,
        "cycle": cycle_id,
        "objective": objective_id,
        "key_result": key_result_id,
    }
