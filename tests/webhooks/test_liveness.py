"""Retries go out when due, not at the next poll; a live worker keeps its claims however long
its request runs, while a dead one's are free again within a lease."""

from tests.conftest import Api
from tests.webhooks.conftest import (
    Receiver,
    Reply,
    StartWorker,
    create_endpoint,
    deliveries,
    eventually,
    finished,
    ok,
)

POLL_SECONDS = 60.0  # far longer than any wait below: only a due time can wake the worker


async def test_a_retry_goes_out_when_due_without_waiting_for_the_poll(
    api: Api, receiver: Receiver, start_worker: StartWorker
) -> None:
    endpoint_id, _ = await create_endpoint(api, receiver.url)
    await start_worker(webhook_retry_schedule="0,1", webhook_poll_interval_seconds=POLL_SECONDS)
    receiver.replies = [Reply(status=500)]
    await ok(api, "sendTestWebhook", {"endpointId": endpoint_id}, "event { id }")

    failed, retried = await receiver.wait_for(2, within=POLL_SECONDS / 4)
    assert retried.at - failed.at >= 0.9 - 0.2  # the schedule's delay, less its jitter
    [delivery] = await eventually(lambda: deliveries(api, endpoint_id), finished)
    assert [attempt["statusCode"] for attempt in delivery["attempts"]] == [500, 200]


async def test_a_live_worker_keeps_its_claim_beyond_the_lease(
    api: Api, receiver: Receiver, start_worker: StartWorker
) -> None:
    """A request slower than the lease: the worker renews it, so no other worker takes the
    delivery over and the endpoint gets it once."""
    endpoint_id, _ = await create_endpoint(api, receiver.url)
    receiver.replies = [Reply(delay=2.5)]
    await start_worker(webhook_lease_seconds=0.6, webhook_poll_interval_seconds=0.1)
    await start_worker(webhook_lease_seconds=0.6, webhook_poll_interval_seconds=0.1)
    await ok(api, "sendTestWebhook", {"endpointId": endpoint_id}, "event { id }")

    [delivery] = await eventually(lambda: deliveries(api, endpoint_id), finished)
    assert len(receiver.requests) == 1
    assert delivery["attemptCount"] == 1
    assert [attempt["statusCode"] for attempt in delivery["attempts"]] == [200]
