"""Per-object order: an endpoint never receives event n+1 of an object before event n of
that object was delivered or died; other objects' events go out meanwhile."""

import json
import random
from collections import defaultdict

from tests import factories
from tests.conftest import Api
from tests.webhooks.conftest import (
    Received,
    Receiver,
    Reply,
    StartWorker,
    create_endpoint,
    deliveries,
    eventually,
    finished,
)

TEAM_EVENTS = ["team.created", "team.updated"]


def event_of(request: Received) -> tuple[str, int, str]:
    """(object ID, sequence, type) of a delivered body."""
    body = json.loads(request.body)
    return body["data"]["object"]["id"], body["data"]["sequence"], body["type"]


async def delivery_statuses(api: Api, endpoint_id: str) -> list[str]:
    data = await api.query(
        "query($id: ID) { webhookDeliveries(endpointId: $id, first: 100) "
        "{ edges { node { status } } } }",
        {"id": endpoint_id},
    )
    return [edge["node"]["status"] for edge in data["webhookDeliveries"]["edges"]]


def out_of_order(receiver: Receiver, answered: dict[int, int]) -> list[str]:
    """Requests that arrived while an earlier event of their object was still owed: not yet
    answered 2xx, and not given up on (`dead`: sequences that died, by object)."""
    problems = []
    done: dict[str, set[int]] = defaultdict(set)
    for index, request in enumerate(receiver.requests):
        subject, sequence, _ = event_of(request)
        owed = [n for n in range(1, sequence) if n not in done[subject]]
        if owed:
            problems.append(f"{subject} #{sequence} arrived before #{owed}")
        if 200 <= answered[index] < 300:
            done[subject].add(sequence)
    return problems


async def test_a_failing_event_holds_back_its_objects_later_events_only(
    api: Api, receiver: Receiver, start_worker: StartWorker
) -> None:
    endpoint_id, _ = await create_endpoint(
        api, receiver.url, eventTypes=["team.created", "team.updated"]
    )
    held = await factories.team(api, "Held")
    await api.ok("updateTeam", {"id": held, "name": "Held, renamed"})
    free = await factories.team(api, "Free")
    failed_once: set[str] = set()

    def answer(request: Received) -> Reply | None:
        subject, sequence, _ = event_of(request)
        if (subject, sequence) == (held, 1) and held not in failed_once:
            failed_once.add(held)
            return Reply(status=500)
        return None

    receiver.answer = answer
    await start_worker(webhook_retry_schedule="0,1")
    await eventually(lambda: deliveries(api, endpoint_id), finished)

    arrivals = [event_of(request)[:2] for request in receiver.requests]
    assert arrivals.index((free, 1)) < arrivals.index((held, 1), 1)  # not held back
    assert [sequence for subject, sequence in arrivals if subject == held] == [1, 1, 2]


async def test_a_dead_event_lets_the_next_one_go(
    api: Api, receiver: Receiver, start_worker: StartWorker
) -> None:
    endpoint_id, _ = await create_endpoint(
        api, receiver.url, eventTypes=["team.created", "team.updated"]
    )
    team = await factories.team(api, "Team")
    await api.ok("updateTeam", {"id": team, "name": "Renamed"})
    receiver.replies = [Reply(status=500)]  # the only attempt of event 1

    await start_worker(webhook_retry_schedule="0")
    rows = await eventually(lambda: deliveries(api, endpoint_id), finished)

    assert sorted(row["status"] for row in rows) == ["DEAD", "DELIVERED"]
    assert [event_of(request)[1] for request in receiver.requests] == [1, 2]


async def test_concurrent_workers_and_failures_never_reorder_an_object(
    api: Api, receiver: Receiver, start_worker: StartWorker
) -> None:
    """Three workers, eight objects with five events each, a quarter of requests failing."""
    endpoint_id, _ = await create_endpoint(
        api, receiver.url, eventTypes=["team.created", "team.updated"]
    )
    teams = [await factories.team(api, f"Team {index}") for index in range(8)]
    for round_ in range(4):
        for team in teams:
            await api.ok("updateTeam", {"id": team, "name": f"{team} {round_}"})
    chance = random.Random(12)
    answered: dict[int, int] = {}

    def answer(request: Received) -> Reply:
        status = 500 if chance.random() < 0.25 else 200
        answered[len(receiver.requests) - 1] = status
        return Reply(status=status)

    receiver.answer = answer
    for _ in range(3):
        await start_worker(webhook_retry_schedule="0,0.2,0.2,0.2,0.2,0.2,0.2,0.2")
    statuses = await eventually(
        lambda: delivery_statuses(api, endpoint_id), lambda found: found == ["DELIVERED"] * 40, 60
    )

    assert statuses == ["DELIVERED"] * 40
    assert out_of_order(receiver, answered) == []
