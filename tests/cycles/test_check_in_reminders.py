"""Check-in reminders: a key result of an active cycle left without a check-in for a whole
period gets one `key_result.check_in_due` per missed period, however often the sweep runs.
Time is a clock the test moves."""

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI

from okr_service.cycles.sweep import sweep_organization
from okr_service.kit.db import transaction
from tests import factories
from tests.conftest import Api, ManualClock
from tests.webhooks.conftest import events_of_type

WEEK = timedelta(days=7)
CYCLE_START = datetime(2026, 1, 1, tzinfo=UTC)  # Q1 2026, the factories' cycle


async def sweep(
    api: Api, app: FastAPI, clock: ManualClock, at: datetime, cadence: timedelta = WEEK
) -> None:
    """The sweep of `api`'s organization at `at` (the others' are no business of these tests,
    and sweeping every organization of the run costs more the longer the suite has run)."""
    clock.moment = at
    async with transaction(app.state.sessionmaker) as db:
        await sweep_organization(db, api.organization_id, clock.now(), cadence)


async def reminders(api: Api) -> list[dict[str, Any]]:
    return [
        event["data"]["object"]["checkInDue"] | {"subject": event["subjectId"]}
        for event in await events_of_type(api, "key_result.check_in_due")
    ]


async def active_okr(api: Api) -> dict[str, str]:
    ids = await factories.okr(api)
    await api.ok("updateCycle", {"id": ids["cycle"], "state": "ACTIVE"})
    return ids


async def test_one_reminder_per_missed_period_not_per_sweep(
    api: Api, app: FastAPI, clock: ManualClock
) -> None:
    clock.moment = CYCLE_START + timedelta(days=2)
    ids = await active_okr(api)
    since = CYCLE_START.isoformat()

    await sweep(api, app, clock, CYCLE_START + timedelta(days=6, hours=23))
    assert await reminders(api) == []
    await sweep(api, app, clock, CYCLE_START + timedelta(days=7, hours=1))
    await sweep(api, app, clock, CYCLE_START + timedelta(days=8))  # the same period: no more
    assert await reminders(api) == [
        {"since": since, "missedPeriods": 1, "cadenceDays": 7, "subject": ids["key_result"]}
    ]
    await sweep(api, app, clock, CYCLE_START + timedelta(days=22))  # the sweep was away: 2 more
    assert [reminder["missedPeriods"] for reminder in await reminders(api)] == [1, 2, 3]


async def test_a_check_in_restarts_the_count(api: Api, app: FastAPI, clock: ManualClock) -> None:
    clock.moment = CYCLE_START + timedelta(days=2)
    ids = await active_okr(api)
    await sweep(api, app, clock, CYCLE_START + timedelta(days=8))
    checked_at = CYCLE_START + timedelta(days=9)
    clock.moment = checked_at
    await api.ok("recordCheckIn", {"keyResultId": ids["key_result"], "value": 12})

    await sweep(api, app, clock, checked_at + WEEK - timedelta(minutes=1))
    assert len(await reminders(api)) == 1  # the one before the check-in
    await sweep(api, app, clock, checked_at + WEEK)
    *_, last = await reminders(api)
    assert (last["since"], last["missedPeriods"]) == (checked_at.isoformat(), 1)


async def test_only_active_cycles_are_reminded_on_their_cadence(
    api: Api, app: FastAPI, clock: ManualClock
) -> None:
    clock.moment = CYCLE_START + timedelta(days=2)
    await factories.okr(api)  # its cycle stays in planning
    active = await active_okr(api)

    await sweep(
        api, app, clock, CYCLE_START + timedelta(days=3, hours=1), cadence=timedelta(days=1)
    )
    assert [(r["subject"], r["missedPeriods"], r["cadenceDays"]) for r in await reminders(api)] == [
        (active["key_result"], period, 1) for period in (1, 2, 3)
    ]


async def test_periods_count_until_the_cycle_ends(
    api: Api, app: FastAPI, clock: ManualClock
) -> None:
    """An active cycle left open past its end (Q1: 90 days) is not nagged about for ever."""
    clock.moment = CYCLE_START + timedelta(days=2)
    await active_okr(api)
    await sweep(api, app, clock, CYCLE_START + timedelta(days=300))
    assert [reminder["missedPeriods"] for reminder in await reminders(api)] == list(range(1, 13))
