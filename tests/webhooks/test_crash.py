"""A worker process killed with SIGKILL mid-delivery loses nothing."""

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.conftest import Api
from tests.webhooks.conftest import (
    LOCAL,
    Receiver,
    Reply,
    StartWorker,
    create_endpoint,
    deliveries,
    eventually,
    ok,
)

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 2


@pytest.fixture
async def worker_process(database_url: str) -> AsyncIterator[Callable[[], subprocess.Popen[bytes]]]:
    """Starts `python -m service worker` against the test database; kills it afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        env = (
            os.environ
            | LOCAL
            | {
                "OKR_DATABASE_URL": database_url,
                "OKR_WEBHOOK_LEASE_SECONDS": str(LEASE_SECONDS),
                "OKR_WEBHOOK_POLL_INTERVAL_SECONDS": "0.2",
            }
        )
        process = subprocess.Popen([sys.executable, "-m", "service", "worker"], cwd=ROOT, env=env)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


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
    assert [attempt["statusCode"] for attempt in delivered["attempts"]] == [200]
