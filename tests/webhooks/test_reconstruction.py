"""The event stream tells the whole truth, in order: a consumer that verifies each delivery
with the stock `standardwebhooks` library and applies it in arrival order ends up with
exactly the database's objects, after concurrent writers, failing requests, deletes,
closeCycle and two worker processes killed with SIGKILL mid-delivery."""

import asyncio
import json
import os
import random
import signal
from typing import Any
from uuid import UUID

from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks.webhooks import Webhook

from okr_service.events.metadata import model_of
from okr_service.events.service import snapshot
from okr_service.kit.db import transaction
from tests import factories
from tests.conftest import Api
from tests.graphql.support import close_cycle
from tests.webhooks.conftest import (
    Received,
    Receiver,
    Reply,
    StartProcess,
    StartWorker,
    create_endpoint,
    eventually,
    uuid_of,
)

# Parts of `object` that are about the event (the check-in just made), not the object.
EVENT_PARTS = ("checkIn", "checkInDue")
RETRIES = "0" + ",0.2" * 12  # many and quick: nothing dies
# Worker processes retry quickly and leave the health sweep to the test (none runs).
WORKER_ENV = {"OKR_WEBHOOK_RETRY_SCHEDULE": RETRIES, "OKR_HEALTH_SWEEP_INTERVAL_SECONDS": "1e9"}
TYPE_NAMES = ("Team", "Cycle", "Objective", "KeyResult", "Initiative", "AlignmentLink")


class Consumer:
    """Keeps the last state of every object it hears of, as a roadmap tool would."""

    def __init__(self, secret: str) -> None:
        self.verifier = Webhook(secret)
        self.seen: set[str] = set()
        self.objects: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()
        self.sequences: dict[str, int] = {}
        self.out_of_order: list[str] = []

    def apply(self, request: Received) -> None:
        body = self.verifier.verify(request.body, request.headers)  # raises if forged
        if request.headers["webhook-id"] in self.seen:
            return  # a retry of what was already applied
        self.seen.add(request.headers["webhook-id"])
        state, sequence = body["data"]["object"], body["data"]["sequence"]
        object_id = state["id"]
        if sequence != self.sequences.get(object_id, 0) + 1:
            self.out_of_order.append(f"{body['type']} #{sequence} of {object_id}")
        self.sequences[object_id] = sequence
        if body["type"].endswith(".deleted"):
            self.objects.pop(object_id, None)
            self.deleted.add(object_id)
        else:
            self.objects[object_id] = {k: v for k, v in state.items() if k not in EVENT_PARTS}


async def database_objects(app: FastAPI, api: Api) -> dict[str, Any]:
    """Every told object of the organization, as events show objects."""
    found = {}
    async with transaction(app.state.sessionmaker) as db:
        for type_name in TYPE_NAMES:
            model = model_of(type_name)
            rows = await db.scalars(
                select(model).where(model.organization_id == api.organization_id)
            )
            for row in rows:
                state = snapshot(row, type_name)
                found[state["id"]] = json.loads(json.dumps(state))  # as sent: JSON
    return found


async def outstanding(engine: AsyncEngine, endpoint_id: UUID) -> tuple[int, int]:
    """(deliveries not delivered yet, all deliveries) of the endpoint."""
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT count(*) FILTER (WHERE status <> 'DELIVERED'), count(*) "
                    "FROM webhook_deliveries WHERE endpoint_id = :id"
                ),
                {"id": endpoint_id},
            )
        ).one()
    return int(row[0]), int(row[1])


async def writer(api: Api, team: str, cycle: str, index: int) -> dict[str, str]:
    """One writer's OKR: an objective, two key results with check-ins, a linked initiative."""
    objective = await factories.objective(api, team, cycle, f"Objective {index}")
    first = await factories.key_result(api, objective, f"KR {index}a")
    second = await factories.key_result(api, objective, f"KR {index}b", 0, 100)
    initiative = await factories.initiative(api, team, f"Initiative {index}")
    await api.ok("linkInitiative", {"initiativeId": initiative, "keyResultId": first})
    for value in (11, 14):
        await api.ok("recordCheckIn", {"keyResultId": first, "value": value})
        await api.ok("recordCheckIn", {"keyResultId": second, "value": value * 3})
    await api.ok("updateObjective", {"id": objective, "title": f"Objective {index}, sharper"})
    await api.ok("updateInitiative", {"id": initiative, "status": "IN_PROGRESS"})
    return {"objective": objective, "first": first, "second": second}


async def test_a_consumer_rebuilds_the_database_from_the_stream(
    app: FastAPI,
    api: Api,
    engine: AsyncEngine,
    receiver: Receiver,
    worker_process: StartProcess,
    start_worker: StartWorker,
) -> None:
    endpoint_id, secret = await create_endpoint(api, receiver.url)
    chance = random.Random(7)
    receiver.answer = lambda _: Reply(
        status=500 if chance.random() < 0.15 else 200, delay=chance.choice((0, 0, 0.05))
    )
    doomed = [worker_process(**WORKER_ENV), worker_process(**WORKER_ENV)]

    team = await factories.team(api, "Core")
    cycle = await factories.cycle(api)
    await api.ok("updateCycle", {"id": cycle, "state": "ACTIVE"})
    okrs = await asyncio.gather(*(writer(api, team, cycle, index) for index in range(3)))
    await receiver.wait_for(20, within=60)
    os.kill(doomed[0].pid, signal.SIGKILL)  # mid-stream: requests in flight are lost
    await api.ok(
        "createAlignment",
        {"sourceObjectiveId": okrs[1]["objective"], "targetObjectiveId": okrs[0]["objective"]},
    )
    await api.ok("deleteKeyResult", {"id": okrs[2]["second"]})
    await receiver.wait_for(len(receiver.requests) + 5, within=60)
    os.kill(doomed[1].pid, signal.SIGKILL)
    await api.ok("deleteObjective", {"id": okrs[0]["objective"]})  # its KRs, links go too
    await close_cycle(api, cycle)
    await start_worker(webhook_retry_schedule=RETRIES)

    await eventually(
        lambda: outstanding(engine, uuid_of(endpoint_id)),
        lambda counts: counts[0] == 0 and counts[1] > 0,
        within=120,
    )
    consumer = Consumer(secret)
    for request in receiver.requests:
        consumer.apply(request)

    assert consumer.out_of_order == []
    assert consumer.objects == await database_objects(app, api)
    gone = {okrs[0]["objective"], okrs[0]["first"], okrs[0]["second"], okrs[2]["second"]}
    assert gone <= consumer.deleted
    scores = [state.get("finalScore") for state in consumer.objects.values()]
    assert sum(score is not None for score in scores) == 3  # every remaining key result
