"""closeCycle racing the writers of its cycle: once the close has committed, nothing more
lands in the cycle, and every frozen score is the score of the values it froze.

Writers take the cycle's share lock before their rows (closeCycle takes it for update
before the same rows), so a writer queued behind the close reads the cycle closed and is
refused with ALREADY_CLOSED instead of landing in it; no pair of them deadlocks.
"""

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests import factories
from tests.conftest import Api, StatementCounter
from tests.graphql.support import close_cycle, uuid_of

WRITERS = 8
KEY_RESULTS = 4
WRITES_BEFORE_CLOSE = 3 * WRITERS  # the writers are in full flow when the close starts
WRITES_AFTER_CLOSE = 3  # per writer, once the close has answered
TARGET = 100.0  # start 0, target 100: a value's progress is value / 100

Write = Callable[[int, int], Awaitable[str]]  # (writer, attempt) -> "ok" or the error code


async def outcome(api: Api, name: str, input_: dict[str, Any], object_field: str) -> str:
    """Run a mutation; "ok", or its one user error code. A GraphQL error (a crash, a
    deadlock) fails the test inside `api.query`."""
    payload = await api.mutate(name, input_, f"{object_field} {{ id }}")
    codes = [error["code"] for error in payload["userErrors"]]
    return "ok" if not codes else "+".join(codes)


async def race_close(api: Api, cycle_id: str, write: Write) -> Counter[str]:
    """WRITERS writers keep writing while the cycle closes, and a few times after the
    close has answered; returns how their writes ended."""
    outcomes: Counter[str] = Counter()
    flowing, closed = asyncio.Event(), asyncio.Event()

    async def writer(number: int) -> None:
        attempt, left_after_close = 0, WRITES_AFTER_CLOSE
        while left_after_close:
            if closed.is_set():
                left_after_close -= 1
            outcomes[await write(number, attempt)] += 1
            attempt += 1
            if outcomes.total() >= WRITES_BEFORE_CLOSE:
                flowing.set()

    async def closer() -> None:
        await flowing.wait()
        await close_cycle(api, cycle_id)
        closed.set()

    await asyncio.wait_for(
        asyncio.gather(closer(), *(writer(n) for n in range(WRITERS))), timeout=30
    )
    return outcomes


async def closed_at(engine: AsyncEngine, organization_id: UUID, cycle_id: str) -> datetime:
    """When the close recorded the cycle's state change: after it held every lock."""
    async with engine.connect() as connection:
        found = await connection.scalar(
            text(
                "SELECT occurred_at FROM events WHERE organization_id = :org"
                " AND subject_id = :cycle AND type = 'cycle.state_changed'"
                " AND data -> 'changes' -> 'state' ->> 'to' = 'CLOSED'"
            ),
            {"org": organization_id, "cycle": uuid_of(cycle_id)},
        )
    assert isinstance(found, datetime)
    return found


async def rows(engine: AsyncEngine, query: str, organization_id: UUID, **values: Any) -> list[Any]:
    async with engine.connect() as connection:
        return list(await connection.execute(text(query), {"org": organization_id, **values}))


async def assert_scores_froze_the_last_values(
    engine: AsyncEngine, organization_id: UUID, close: datetime
) -> None:
    """Each key result kept the value of its last check-in before the close, and its
    frozen score is that value's progress."""
    check_ins = await rows(
        engine,
        "SELECT key_result_id, value FROM check_ins WHERE organization_id = :org"
        " AND checked_at <= :close ORDER BY checked_at, id",
        organization_id,
        close=close,
    )
    last_value = {row.key_result_id: float(row.value) for row in check_ins}
    key_results = await rows(
        engine,
        "SELECT id, current_value, final_score FROM key_results WHERE organization_id = :org",
        organization_id,
    )
    assert len(key_results) == KEY_RESULTS
    for key_result in key_results:
        value = last_value[key_result.id]
        assert float(key_result.current_value) == value
        assert float(key_result.final_score) == pytest.approx(value / TARGET)


async def cycle_with_key_results(api: Api) -> tuple[str, str, list[str]]:
    team = await factories.team(api)
    cycle = await factories.cycle(api)
    objective = await factories.objective(api, team, cycle)
    key_results = [
        await factories.key_result(api, objective, f"KR {n}", start_value=0, target_value=TARGET)
        for n in range(KEY_RESULTS)
    ]
    for key_result in key_results:  # every key result has a value before the race
        await api.ok("recordCheckIn", {"keyResultId": key_result, "value": 1})
    return cycle, objective, key_results


def value_of(writer: int, attempt: int) -> float:
    return float((writer * 13 + attempt * 7) % 97 + 2)


async def test_no_check_in_lands_after_the_close(api: Api, engine: AsyncEngine) -> None:
    cycle, _, key_results = await cycle_with_key_results(api)

    async def check_in(writer: int, attempt: int) -> str:
        key_result = key_results[(writer + attempt) % KEY_RESULTS]
        input_ = {"keyResultId": key_result, "value": value_of(writer, attempt)}
        return await outcome(api, "recordCheckIn", input_, "checkIn")

    outcomes = await race_close(api, cycle, check_in)

    close = await closed_at(engine, api.organization_id, cycle)
    late = await rows(
        engine,
        "SELECT checked_at FROM check_ins WHERE organization_id = :org AND checked_at > :close",
        api.organization_id,
        close=close,
    )
    print(f"\ncheck-ins racing closeCycle: {dict(outcomes)}; after the close: {len(late)}")
    assert late == []
    assert set(outcomes) == {"ok", "ALREADY_CLOSED"}
    assert outcomes["ALREADY_CLOSED"] >= WRITERS * WRITES_AFTER_CLOSE
    await assert_scores_froze_the_last_values(engine, api.organization_id, close)


async def test_no_write_of_any_kind_lands_after_the_close(api: Api, engine: AsyncEngine) -> None:
    """Key result and objective updates, initiative links and alignment links, queued
    behind the close with the check-ins: refused, never landed, never deadlocked."""
    cycle, objective, key_results = await cycle_with_key_results(api)
    team = await factories.team(api, "Other")
    initiative = await factories.initiative(api, team)
    sources = [
        await factories.objective(api, team, cycle, f"Contributor {n}") for n in range(WRITERS)
    ]

    async def any_write(writer: int, attempt: int) -> str:
        key_result = key_results[(writer + attempt) % KEY_RESULTS]
        kind = attempt % 5
        if kind == 0:
            input_ = {"keyResultId": key_result, "value": value_of(writer, attempt)}
            return await outcome(api, "recordCheckIn", input_, "checkIn")
        if kind == 1:
            input_ = {"id": key_result, "confidence": (attempt % 10) / 10}
            return await outcome(api, "updateKeyResult", input_, "keyResult")
        if kind == 2:
            input_ = {"id": objective, "description": f"Take {writer}.{attempt}"}
            return await outcome(api, "updateObjective", input_, "objective")
        if kind == 3:
            input_ = {"initiativeId": initiative, "keyResultId": key_result}
            return await outcome(
                api, "linkInitiative", input_ | {"expectedImpact": 1}, "initiative"
            )
        input_ = {"sourceObjectiveId": sources[writer], "targetKeyResultId": key_result}
        found = await outcome(api, "createAlignment", input_, "alignment")
        return "ok" if found == "DUPLICATE" else found  # the link was made on an earlier turn

    outcomes = await race_close(api, cycle, any_write)

    close = await closed_at(engine, api.organization_id, cycle)
    late = await rows(
        engine,
        "SELECT type FROM events WHERE organization_id = :org AND occurred_at > :close",
        api.organization_id,
        close=close,
    )
    print(f"\nwrites racing closeCycle: {dict(outcomes)}; events after the close: {len(late)}")
    assert late == []
    assert set(outcomes) == {"ok", "ALREADY_CLOSED"}
    await assert_scores_froze_the_last_values(engine, api.organization_id, close)


async def test_a_check_in_takes_its_turn_in_three_statements(
    api: Api, sql_statements: StatementCounter
) -> None:
    """The cycle's turn costs one statement, and the check-in saves one elsewhere (its
    objective's health is derived from the cycle's dates already read): after
    authentication, a check-in is the turn, the lock of the key result and its objective
    (concurrent check-ins announce its health one after the other), and one write (the
    check-in, the key result's new value, their events, the objective's key results)."""
    _, _, key_results = await cycle_with_key_results(api)
    start = sql_statements.count
    await api.ok("recordCheckIn", {"keyResultId": key_results[0], "value": 5})
    statements = sql_statements.statements[start:]
    tenant = next(n for n, sql in enumerate(statements) if "set_config('role'" in sql)
    after_authentication = statements[tenant + 1 :]
    assert "pg_advisory_xact_lock_shared" in after_authentication[0]
    assert len(after_authentication) == 3, after_authentication
