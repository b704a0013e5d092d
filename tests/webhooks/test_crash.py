"""A worker process killed with SIGKILL mid-delivery loses nothing."""

import asyncio
import os
import signal
import subprocess
from collections.abc import Callable

from okr_service.webhooks.repository import LOST_ATTEMPT
from tests.conftest import Api
from tests.webhooks.conftest import (
    LEASE_SECONDS,
    Receiver,
    Reply,
    StartWorker,
    create_endpoint,
    deliveries,
    eventually,
    ok,
)


async def test_a_worker_killed_mid_delivery_loses_nothing(
    api: Api,
    receiver: Receiver,
    worker_process: Callable[[], subprocess.Popen[bytes]],
    start_worker: StartWorker,
) -> None:
    endpoint_id, _ = await create_endpoint(api, receiver.url)
    receiver.replies = [Reply(stall=True)]  # the first request never gets an answer
    first_worker = worker_process()
    event = await ok(api, "sendTestWebhook", {"endpointId": endpoint_id}, "event { id }")

    [stalled] = await receiver.wait_for(1, within=20)
    os.kill(first_worker.pid, signal.SIGKILL)
    assert await asyncio.to_thread(first_worker.wait, 10) == -signal.SIGKILL
    [claimed] = await deliveries(api, endpoint_id)
    assert claimed["status"] == "DELIVERING"  # held by a dead worker's lease

    await start_worker()
    _, retried = await receiver.wait_for(2, within=LEASE_SECONDS + 10)
    assert retried.headers["webhook-id"] == stalled.headers["webhook-id"] == event["event"]["id"]
    assert retried.body == stalled.body
    [delivered] = await eventually(
        lambda: deliveries(api, endpoint_id), lambda rows: rows[0]["status"] == "DELIVERED"
    )
    assert delivered["attemptCount"] == 2  # the killed claim counts
    lost, answered = delivered["attempts"]  # and is in the log, with what is known of it
    assert (lost["statusCode"], lost["error"]) == (None, LOST_ATTEMPT)
    assert lost["attemptedAt"] <= answered["attemptedAt"]
    assert answered["statusCode"] == 200
