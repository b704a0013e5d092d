"""The health sweep: health that moves with time alone reaches webhooks and the event log,
once, within one sweep interval. Time is a clock the test moves, never a sleep."""

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from standardwebhooks.webhooks import Webhook

from okr_service.cycles.sweep import HealthSweeper
from okr_service.webhooks.worker import DeliveryWorker
from tests import factories
from tests.conftest import Api, ManualClock
from tests.graphql.support import close_cycle
from tests.reports.support import cycle_report
from tests.webhooks.conftest import Receiver, create_endpoint, events_of_type

HEALTH_EVENTS = ["key_result.health_changed", "objective.health_changed"]
EARLY = datetime(2026, 1, 5, 12, tzinfo=UTC)  # day 5 of 90: nothing expected yet
LATE = datetime(2026, 2, 20, 12, tzinfo=UTC)  # day 51 of 90: 0.57 expected


def sweeper(app: FastAPI, clock: ManualClock, interval: float = 3600) -> HealthSweeper:
    return HealthSweeper(app.state.sessionmaker, clock, interval)


async def health_of(api: Api, id_: str) -> str:
    data = await api.query(
        "query($id: ID!) { node(id: $id) { ... on KeyResult { health }"
        " ... on Objective { health } } }",
        {"id": id_},
    )
    health: str = data["node"]["health"]
    return health


async def sweep_events(api: Api) -> list[dict[str, Any]]:
    return [event for type_ in HEALTH_EVENTS for event in await events_of_type(api, type_)]


async def test_time_alone_turns_health_and_a_receiver_hears_it_within_the_interval(
    api: Api,
    app: FastAPI,
    clock: ManualClock,
    receiver: Receiver,
    worker: DeliveryWorker,
) -> None:
    clock.moment = EARLY
    ids = await factories.okr(api)  # Q1 2026; key result 10 -> 20, never checked in
    _, secret = await create_endpoint(api, receiver.url, eventTypes=HEALTH_EVENTS)
    assert await health_of(api, ids["key_result"]) == "ON_TRACK"
    assert await health_of(api, ids["objective"]) == "ON_TRACK"
    assert (await cycle_report(api, ids["cycle"]))["onTrackCount"] == 1

    running = sweeper(app, clock, interval=0.2)
    await running.start()
    try:
        clock.moment = LATE  # nobody writes; the path says 0.57 by now
        requests = await receiver.wait_for(2, within=10)
    finally:
        await running.stop()

    bodies = {}
    for request in requests:
        body = Webhook(secret).verify(request.body, request.headers)
        bodies[body["data"]["object"]["id"]] = body
    for subject, type_ in (
        (ids["key_result"], HEALTH_EVENTS[0]),
        (ids["objective"], HEALTH_EVENTS[1]),
    ):
        body = bodies[subject]
        assert body["type"] == type_
        assert body["data"]["changes"] == {"health": {"from": "ON_TRACK", "to": "OFF_TRACK"}}
        assert body["data"]["actor"]["type"] == "system"
        # The payload, the field and the filter tell one story.
        assert body["data"]["object"]["health"] == await health_of(api, subject) == "OFF_TRACK"
    data = await api.query("{ keyResults(filter: {health: OFF_TRACK}) { edges { node { id } } } }")
    assert [edge["node"]["id"] for edge in data["keyResults"]["edges"]] == [ids["key_result"]]

    # Later sweeps find nothing new to say.
    assert await sweeper(app, clock).sweep_once() == 0
    assert len(await sweep_events(api)) == 2


async def test_a_check_in_is_heard_once_and_the_sweep_does_not_repeat_it(
    api: Api, app: FastAPI, clock: ManualClock
) -> None:
    clock.moment = LATE
    ids = await factories.okr(api)  # created already behind: off track from the start
    await api.ok("recordCheckIn", {"keyResultId": ids["key_result"], "value": 16}, "checkIn { id }")
    changed = await events_of_type(api, "key_result.health_changed")
    assert [event["data"]["changes"] for event in changed] == [
        {"health": {"from": "OFF_TRACK", "to": "ON_TRACK"}}
    ]
    await sweeper(app, clock).sweep_once()
    assert len(await events_of_type(api, "key_result.health_changed")) == 1


async def test_several_sweepers_at_once_announce_each_change_once(
    api: Api, app: FastAPI, clock: ManualClock
) -> None:
    clock.moment = EARLY
    ids = await factories.okr(api)
    second = await factories.key_result(api, ids["objective"], "Raise retention")
    clock.moment = LATE
    await asyncio.gather(*(sweeper(app, clock).sweep_once() for _ in range(4)))
    await sweeper(app, clock).sweep_once()
    found = await sweep_events(api)
    assert sorted(event["subjectId"] for event in found) == sorted(
        [ids["key_result"], second, ids["objective"]]
    )


async def test_a_roll_up_moved_by_a_contributor_is_announced(
    api: Api, app: FastAPI, clock: ManualClock
) -> None:
    clock.moment = LATE
    ids = await factories.okr(api)
    parent = await factories.objective(
        api, ids["team"], (await factories.cycle(api, "Q1 again")), "Lead the market"
    )
    await api.ok("updateObjective", {"id": parent, "progressMode": "ALIGNED"})
    await api.ok(
        "createAlignment", {"sourceObjectiveId": ids["objective"], "targetObjectiveId": parent}
    )
    await sweeper(app, clock).sweep_once()
    assert await health_of(api, parent) == "OFF_TRACK"  # its only contributor lags

    # The contributor moves: the parent's health with it, though nobody wrote to the parent.
    await api.ok("recordCheckIn", {"keyResultId": ids["key_result"], "value": 17}, "checkIn { id }")
    assert await health_of(api, parent) == "ON_TRACK"
    assert await sweeper(app, clock).sweep_once() >= 1
    [*_, last] = [
        event
        for event in await events_of_type(api, "objective.health_changed")
        if event["subjectId"] == parent
    ]
    assert last["data"]["changes"] == {"health": {"from": "OFF_TRACK", "to": "ON_TRACK"}}
    assert last["data"]["actor"]["type"] == "system"


async def test_health_set_by_hand_is_left_alone(api: Api, app: FastAPI, clock: ManualClock) -> None:
    clock.moment = EARLY
    ids = await factories.okr(api)
    await api.ok("updateKeyResult", {"id": ids["key_result"], "health": "ON_TRACK"})
    clock.moment = LATE
    await sweeper(app, clock).sweep_once()
    assert await health_of(api, ids["key_result"]) == "ON_TRACK"
    changed = await events_of_type(api, "key_result.health_changed")
    assert [event["subjectId"] for event in changed] == []


async def test_closing_a_cycle_announces_its_healths_and_freezes_them(
    api: Api, app: FastAPI, clock: ManualClock
) -> None:
    clock.moment = EARLY
    ids = await factories.okr(api)  # on track: nothing expected yet
    clock.moment = LATE  # behind now, though no sweep has said so
    await close_cycle(api, ids["cycle"])
    changed = await sweep_events(api)
    assert sorted(
        (event["type"], event["data"]["changes"]["health"]["to"]) for event in changed
    ) == [
        ("key_result.health_changed", "OFF_TRACK"),
        ("objective.health_changed", "OFF_TRACK"),
    ]

    clock.moment = datetime(2026, 9, 1, tzinfo=UTC)  # long after: the close's answer stands
    query = (
        "query($id: ID!) { node(id: $id) { ... on KeyResult { health healthReason }"
        " ... on Objective { health healthReason } } }"
    )
    for subject in (ids["key_result"], ids["objective"]):
        found = (await api.query(query, {"id": subject}))["node"]
        assert found == {"health": "OFF_TRACK", "healthReason": "CYCLE_CLOSED"}
    await sweeper(app, clock).sweep_once()
    assert len(await sweep_events(api)) == 2  # closed cycles are not swept
