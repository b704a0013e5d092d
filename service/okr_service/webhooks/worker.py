"""The delivery worker: claims due deliveries, signs and posts them, records every attempt.

Any number may run (`okr-service worker`, or one inside each API process). Claims use
FOR UPDATE SKIP LOCKED and a lease, so a worker killed mid-delivery loses nothing: its
claims fall due again when their lease ends. A live worker renews the leases of its requests
in flight (every third of a lease), so a dead one's claims are free again within a lease,
and the attempt it was making is logged when its delivery is claimed again. A worker wakes
itself when a retry it scheduled falls due, so retries never wait for the poll.
"""

import asyncio
import contextlib
import email.utils
import logging
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from okr_service.integrations import service as integrations
from okr_service.kit import metrics
from okr_service.kit.db import create_engine, create_sessionmaker, direct_url, transaction
from okr_service.kit.listen import listen
from okr_service.kit.settings import Settings
from okr_service.kit.tracing import current_traceparent, extracted, trace_sql
from okr_service.webhooks import repository
from okr_service.webhooks import service as webhooks
from okr_service.webhooks.fan_out import NOTIFY_CHANNEL
from okr_service.webhooks.payloads import event_body, event_global_id
from okr_service.webhooks.repository import Claim, Outcome
from okr_service.webhooks.signing import delivery_headers
from okr_service.webhooks.ssrf import AddressPolicy, BlockedAddress, guarded_client

logger = logging.getLogger(__name__)

RESPONSE_HEAD_BYTES = 1024
PRUNE_EVERY = timedelta(hours=1)
MEASURE_QUEUE_EVERY = timedelta(seconds=10)
LISTEN_RETRY_SECONDS = 5.0
JITTER = 0.1  # +-10% on every retry delay, so retries of one outage do not stampede
GONE = 410
HONOURS_RETRY_AFTER = (429, 503)
RETRY_AFTER_CAP_SECONDS = 86400.0  # a day: longer asks are not honoured in full


class DeliveryWorker:
    def __init__(
        self, database_url: str, settings: Settings, *, tracer: Tracer | None = None
    ) -> None:
        self.database_url = database_url
        self.settings = settings
        self.tracer = tracer
        self.retry_delays = settings.webhook_retry_delays()
        self.lease = timedelta(seconds=settings.webhook_lease_seconds)
        self.wake = asyncio.Event()
        self.stopping = asyncio.Event()
        self.in_flight: set[asyncio.Task[None]] = set()
        self.claims: dict[asyncio.Task[None], Claim] = {}  # of the requests in flight
        self._tasks: list[asyncio.Task[None]] = []
        self._engine: AsyncEngine | None = None
        self._listen_engine: AsyncEngine | None = None

    async def start(self) -> None:
        # Its own engine: delivery traffic never starves the API's pool, nor the reverse.
        self._engine = create_engine(self.database_url, self.settings)
        metrics.instrument_pool(self._engine, "webhooks")
        if self.tracer is not None:
            trace_sql(self._engine, self.tracer)
        sessionmaker = create_sessionmaker(self._engine)
        # A transaction pooler cannot hold a LISTEN: it goes to PostgreSQL itself.
        listen_url = direct_url(self.settings, self.database_url)
        if listen_url != self.database_url:
            self._listen_engine = create_engine(listen_url, self.settings, direct=True)
        client = guarded_client(
            AddressPolicy.from_settings(self.settings),
            timeout=self.settings.webhook_timeout_seconds,
            max_connections=self.settings.webhook_worker_concurrency,
        )
        self._tasks = [
            asyncio.create_task(
                self._listen(self._listen_engine or self._engine), name="webhooks-listen"
            ),
            asyncio.create_task(self._run(sessionmaker, client), name="webhooks-deliver"),
            asyncio.create_task(self._renew(sessionmaker), name="webhooks-renew"),
        ]
        logger.info("webhook delivery worker started")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop claiming; give requests in flight `grace` seconds (the rest are re-claimed
        by some worker once their lease ends)."""
        self.stopping.set()
        self.wake.set()
        if self.in_flight:
            await asyncio.wait(self.in_flight, timeout=grace)
        for task in self.in_flight:
            task.cancel()
        await asyncio.gather(*self.in_flight, return_exceptions=True)
        # The loops see `stopping` and end by themselves, closing their connections cleanly.
        if self._tasks:
            _, stuck = await asyncio.wait(self._tasks, timeout=grace + 5)
            for task in stuck:
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for engine in (self._engine, self._listen_engine):
            if engine is not None:
                await engine.dispose()
        logger.info("webhook delivery worker stopped")

    async def _run(
        self, sessionmaker: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
    ) -> None:
        last_pruned = last_measured = datetime.min.replace(tzinfo=UTC)
        async with client:
            while not self.stopping.is_set():
                self.wake.clear()
                if datetime.now(UTC) - last_pruned > PRUNE_EVERY:
                    await self._guarded(self._prune(sessionmaker))
                    last_pruned = datetime.now(UTC)
                if datetime.now(UTC) - last_measured > MEASURE_QUEUE_EVERY:
                    await self._guarded(self._measure_queue(sessionmaker))
                    last_measured = datetime.now(UTC)
                claimed = await self._guarded(self._claim_and_send(sessionmaker, client))
                if not claimed:
                    await self._idle()

    async def _guarded(self, step: Any) -> Any:
        """Run a step; a database outage is logged and waited out, never fatal."""
        try:
            return await step
        except Exception:
            logger.exception("webhook worker step failed; retrying after the poll interval")
            return None

    async def _idle(self) -> None:
        """Sleep until woken: a NOTIFY, a request finished, a retry falling due (see
        `_wake_at`), or the poll interval."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                self.wake.wait(), timeout=self.settings.webhook_poll_interval_seconds
            )

    def _wake_at(self, moment: datetime) -> None:
        """Wake the loop when `moment` comes: a retry this worker scheduled goes out on time,
        with no query while idle (the poll finds those of a worker that died meanwhile)."""
        delay = max(0.0, (moment - datetime.now(UTC)).total_seconds())
        asyncio.get_running_loop().call_later(delay, self.wake.set)

    async def _renew(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        """Every third of a lease, renew the leases of the requests in flight."""
        every = self.lease.total_seconds() / 3
        while not await self._stopped_within(every):
            held = list(self.claims.values())
            if held:
                await self._guarded(self._renew_leases(sessionmaker, held))

    async def _renew_leases(
        self, sessionmaker: async_sessionmaker[AsyncSession], held: list[Claim]
    ) -> None:
        async with transaction(sessionmaker) as db:
            await repository.renew_leases(db, held, self.lease)

    async def _stopped_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        return self.stopping.is_set()

    def _free_slots(self) -> int:
        free = self.settings.webhook_worker_concurrency - len(self.in_flight)
        # Claim in batches while busy: one claim per finished request would be wasteful.
        batch = max(1, self.settings.webhook_worker_concurrency // 4)
        return free if free >= batch or not self.in_flight else 0

    async def _claim_and_send(
        self, sessionmaker: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
    ) -> int:
        free = self._free_slots()
        if free == 0:
            return 0
        async with transaction(sessionmaker) as db:
            claims = await repository.claim_due(
                db,
                limit=free,
                lease=self.lease,
                per_endpoint=self.settings.webhook_endpoint_concurrency,
            )
        for claim in claims:
            task = asyncio.create_task(self._deliver(sessionmaker, client, claim))
            self.in_flight.add(task)
            self.claims[task] = claim
            task.add_done_callback(self._finished)
        return len(claims)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        self.claims.pop(task, None)
        self.wake.set()  # a slot is free (the loop decides whether a claim is worth it)

    async def _deliver(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        client: httpx.AsyncClient,
        claim: Claim,
    ) -> None:
        if self.tracer is None:
            await self._attempt(sessionmaker, client, claim)
            return
        # A child of the operation that caused the event, when that one was traced.
        caused_by = claim.event.trace_parent
        with self.tracer.start_as_current_span(
            f"webhook delivery {claim.event.type}",
            context=extracted({"traceparent": caused_by}) if caused_by else None,
            kind=SpanKind.CLIENT,
            attributes={
                "okr.webhook.event_type": claim.event.type,
                "okr.webhook.attempt": claim.attempts,
            },
        ) as span:
            outcome = await self._attempt(sessionmaker, client, claim)
            if outcome.status_code is not None:
                span.set_attribute("http.response.status_code", outcome.status_code)
            if not outcome.succeeded:
                span.set_status(Status(StatusCode.ERROR, outcome.error))

    async def _attempt(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        client: httpx.AsyncClient,
        claim: Claim,
    ) -> Outcome:
        outcome = await post(client, claim, current_traceparent())
        metrics.WEBHOOK_ATTEMPT_DURATION.observe(outcome.duration_ms / 1000)
        try:
            async with transaction(sessionmaker) as db:
                await self._settle(db, claim, outcome)
        except Exception:
            # The lease will run out and the delivery be retried: at least once, never lost.
            logger.exception("could not record webhook delivery %s", claim.delivery_id)
        return outcome

    async def _settle(self, db: AsyncSession, claim: Claim, outcome: Outcome) -> None:
        await repository.add_attempt(db, claim, outcome)
        retry_at = None if outcome.status_code == GONE else self._retry_at(claim, outcome)
        if not await repository.settle(db, claim, outcome, retry_at=retry_at):
            return  # our lease ran out and another worker has the delivery now
        if retry_at is not None:
            self._wake_at(retry_at)
        count_outcome(claim, outcome, retry_at)
        org, endpoint = claim.organization_id, claim.endpoint_id
        if outcome.succeeded:
            await repository.mark_endpoint_healthy(db, org, endpoint)
        elif outcome.status_code == GONE:
            await webhooks.disable_endpoint(db, org, endpoint, "The endpoint answered 410 Gone.")
        else:
            since = await repository.mark_endpoint_failing(db, org, endpoint)
            limit = timedelta(days=self.settings.webhook_disable_after_days)
            if since is not None and datetime.now(UTC) - since >= limit:
                reason = f"Failing continuously since {since.isoformat()}."
                await webhooks.disable_endpoint(db, org, endpoint, reason)

    def _retry_at(self, claim: Claim, outcome: Outcome) -> datetime | None:
        """When to try again (None: dead). Attempt n+1 waits the schedule's n-th delay."""
        if claim.attempts >= len(self.retry_delays):
            return None
        delay = self.retry_delays[claim.attempts] * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 - not crypto
        if outcome.retry_after is not None:
            delay = max(delay, min(outcome.retry_after, RETRY_AFTER_CAP_SECONDS))
        return datetime.now(UTC) + timedelta(seconds=delay)

    async def _measure_queue(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        async with transaction(sessionmaker) as db:
            depth, oldest_age = await repository.due_backlog(db)
        metrics.WEBHOOK_QUEUE_DEPTH.set(depth)
        metrics.WEBHOOK_QUEUE_OLDEST_AGE.set(oldest_age)

    async def _prune(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        cutoff = datetime.now(UTC) - timedelta(days=self.settings.webhook_retention_days)
        async with transaction(sessionmaker) as db:
            pruned = await repository.prune_finished(db, cutoff)
        if pruned:
            logger.info("pruned %d finished webhook deliveries", pruned)
        # Inbound deliveries' log too (okr_service/integrations), on its own retention.
        cutoff = datetime.now(UTC) - timedelta(days=self.settings.integration_retention_days)
        async with transaction(sessionmaker) as db:
            pruned = await integrations.prune_deliveries(db, cutoff)
        if pruned:
            logger.info("pruned %d integration deliveries", pruned)

    async def _listen(self, engine: AsyncEngine) -> None:
        """LISTEN on a connection of its own, reconnecting; polling covers the gaps."""
        await listen(
            engine,
            NOTIFY_CHANNEL,
            lambda _payload: self.wake.set(),
            self.stopping,
            on_listening=self.wake.set,  # catch up on what was notified while we were away
            retry_seconds=LISTEN_RETRY_SECONDS,
        )


def count_outcome(claim: Claim, outcome: Outcome, retry_at: datetime | None) -> None:
    """The attempt's metrics, once its outcome is recorded."""
    if outcome.succeeded:
        label = "delivered"
        lag = datetime.now(UTC) - claim.event.occurred_at
        metrics.WEBHOOK_DELIVERY_LAG.observe(max(0.0, lag.total_seconds()))
    elif outcome.status_code == GONE:
        label = "gone"
    else:
        label = "failed" if retry_at is not None else "dead"
    metrics.WEBHOOK_DELIVERIES.labels(label, metrics.attempt_label(claim.attempts)).inc()


async def post(
    client: httpx.AsyncClient, claim: Claim, trace_headers: dict[str, str] | None = None
) -> Outcome:
    """One signed POST of the claim's event (with the trace's `traceparent`, if any);
    never raises."""
    body = event_body(claim.event)
    message_id = event_global_id(claim.event.event_id)
    headers = delivery_headers(claim.secrets, message_id, int(time.time()), body)
    headers.update(trace_headers or {})
    attempted_at = datetime.now(UTC)
    started = time.perf_counter()

    def outcome(**fields: Any) -> Outcome:
        duration_ms = round((time.perf_counter() - started) * 1000)
        return Outcome(attempted_at=attempted_at, duration_ms=duration_ms, **fields)

    try:
        async with client.stream("POST", claim.url, content=body, headers=headers) as response:
            head = await _read_head(response)
    except BlockedAddress as error:
        return outcome(error=f"Blocked by the SSRF guard: {error}")
    except httpx.TimeoutException:
        return outcome(error="Timed out.")
    except httpx.HTTPError as error:
        return outcome(error=f"{type(error).__name__}: {error}"[:500])
    return outcome(
        status_code=response.status_code,
        error=_error_of(response),
        response_body=head,
        retry_after=_retry_after(response) if response.status_code in HONOURS_RETRY_AFTER else None,
    )


async def _read_head(response: httpx.Response) -> str:
    """The first KiB of the body; the rest is never read (a huge answer costs nothing)."""
    head = b""
    async for chunk in response.aiter_bytes():
        head += chunk
        if len(head) >= RESPONSE_HEAD_BYTES:
            break
    return head[:RESPONSE_HEAD_BYTES].decode(errors="replace")


def _error_of(response: httpx.Response) -> str | None:
    if response.is_success:
        return None
    if response.is_redirect:
        return f"HTTP {response.status_code}: redirects are not followed."
    return f"HTTP {response.status_code}"


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds: delta-seconds or an HTTP date."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


async def run_until_stopped(
    database_url: str, settings: Settings, stop: asyncio.Event, *, tracer: Tracer | None = None
) -> None:
    worker = DeliveryWorker(database_url, settings, tracer=tracer)
    await worker.start()
    try:
        await stop.wait()
    finally:
        await worker.stop()
