"""All webhook SQL: subscriptions and delivery history for the API, claims for the workers."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Row, and_, delete, func, insert, select, true, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from okr_service.events.models import Event
from okr_service.kit.repository import Page, Window, equal_where_given, page, rows_grouped_by
from okr_service.kit.rows import Record
from okr_service.webhooks.fan_out import NOTIFY_CHANNEL
from okr_service.webhooks.models import (
    OUTSTANDING,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery a worker holds until its lease ends, with all it needs to send it."""

    delivery_id: UUID
    organization_id: UUID
    endpoint_id: UUID
    attempts: int  # this claim's number; fences late writes by a worker whose lease expired
    url: str
    secrets: list[str]
    event: Row[Any]
    # The previous claim's last sign of life, when that claim ended with no outcome recorded
    # (its worker died mid-attempt): that attempt is logged as lost when this claim is made.
    lost_attempt_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one HTTP attempt came to."""

    attempted_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    response_body: str | None = None
    retry_after: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _is_due() -> Any:
    return and_(
        WebhookDelivery.status.in_(OUTSTANDING), WebhookDelivery.next_attempt_at <= func.now()
    )


async def claim_due(
    db: AsyncSession, *, limit: int, lease: timedelta, per_endpoint: int
) -> list[Claim]:
    """Take up to `limit` due deliveries of enabled endpoints, each under a lease.

    A delivery whose lease expired is due again (its `next_attempt_at` is the lease's end).
    No endpoint gets more than `per_endpoint` unexpired leases (soft cap across workers),
    so a slow endpoint's backlog never crowds out the others. A delivery waits while an
    earlier event of its object is still owed to its endpoint (pending, being delivered or
    to be retried): each endpoint gets an object's events in order, its objects in parallel.
    """
    delivery, busy, earlier = WebhookDelivery, aliased(WebhookDelivery), aliased(WebhookDelivery)
    endpoint = WebhookEndpoint
    leased = (
        select(func.count())
        .where(
            busy.organization_id == endpoint.organization_id,
            busy.endpoint_id == endpoint.id,
            busy.status == DeliveryStatus.DELIVERING,
            busy.lease_until > func.now(),
        )
        .correlate(endpoint)
        .scalar_subquery()
    )
    per_endpoint_due = (
        select(delivery.id)
        .where(
            delivery.organization_id == endpoint.organization_id,
            delivery.endpoint_id == endpoint.id,
            _is_due(),
            ~select(earlier.id)
            .where(
                earlier.organization_id == delivery.organization_id,
                earlier.endpoint_id == delivery.endpoint_id,
                earlier.subject_id == delivery.subject_id,
                earlier.sequence < delivery.sequence,
                earlier.status.in_(OUTSTANDING),
            )
            .exists(),
        )
        .order_by(delivery.next_attempt_at)
        .limit(func.greatest(per_endpoint - leased, 0))
        .lateral()
    )
    candidates = (
        select(per_endpoint_due.c.id)
        .join_from(endpoint, per_endpoint_due, true())
        .where(endpoint.enabled)
    )
    locked = (
        select(delivery.id, delivery.status.label("was"), delivery.updated_at.label("touched"))
        .where(delivery.id.in_(candidates), _is_due())  # rechecked once the row is locked
        .order_by(delivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("locked")
    )
    lease_end = func.now() + lease
    statement = (
        update(delivery)
        .where(
            delivery.id == locked.c.id,
            Event.organization_id == delivery.organization_id,
            Event.id == delivery.event_id,
            endpoint.organization_id == delivery.organization_id,
            endpoint.id == delivery.endpoint_id,
        )
        .values(
            status=DeliveryStatus.DELIVERING,
            attempts=delivery.attempts + 1,
            lease_until=lease_end,
            next_attempt_at=lease_end,
            updated_at=func.now(),
        )
        .returning(
            delivery.id,
            delivery.organization_id,
            delivery.endpoint_id,
            delivery.attempts,
            endpoint.url,
            endpoint.secret,
            endpoint.previous_secret,
            endpoint.previous_secret_expires_at,
            func.now().label("now"),
            Event.id.label("event_id"),
            Event.type,
            Event.occurred_at,
            Event.sequence,
            Event.actor,
            Event.data,
            Event.trace_parent,
            locked.c.was,
            locked.c.touched,
        )
    )
    claims = [_claim(row) for row in await db.execute(statement)]
    await _log_lost_attempts(db, [claim for claim in claims if claim.lost_attempt_at])
    return claims


LOST_ATTEMPT = "No outcome: the worker making this attempt stopped before recording one."


async def _log_lost_attempts(db: AsyncSession, claims: list[Claim]) -> None:
    """Log the attempts of claims that ended with their worker (rare: one statement then)."""
    if not claims:
        return
    await db.execute(
        insert(WebhookAttempt),
        [
            {
                "organization_id": claim.organization_id,
                "delivery_id": claim.delivery_id,
                "attempted_at": claim.lost_attempt_at,
                "duration_ms": 0,
                "error": LOST_ATTEMPT,
            }
            for claim in claims
        ],
    )


async def renew_leases(db: AsyncSession, claims: list[Claim], lease: timedelta) -> None:
    """Extend the leases of claims still held (the worker is alive and at work on them).
    A claim taken over meanwhile (another `attempts`) is left alone. `updated_at` stays:
    it tells when the attempt began."""
    held = [(claim.delivery_id, claim.attempts) for claim in claims]
    await db.execute(
        update(WebhookDelivery)
        .where(
            tuple_(WebhookDelivery.id, WebhookDelivery.attempts).in_(held),
            WebhookDelivery.status == DeliveryStatus.DELIVERING,
        )
        .values(lease_until=func.now() + lease, next_attempt_at=func.now() + lease)
        .execution_options(synchronize_session=False)
    )


def _claim(row: Any) -> Claim:
    secrets = [row.secret]
    grace_ends = row.previous_secret_expires_at
    if row.previous_secret and grace_ends is not None and grace_ends > row.now:
        secrets.append(row.previous_secret)
    return Claim(
        delivery_id=row.id,
        organization_id=row.organization_id,
        endpoint_id=row.endpoint_id,
        attempts=row.attempts,
        url=row.url,
        secrets=secrets,
        event=row,
        lost_attempt_at=row.touched if row.was == DeliveryStatus.DELIVERING else None,
    )


async def add_attempt(db: AsyncSession, claim: Claim, outcome: Outcome) -> None:
    await db.execute(
        insert(WebhookAttempt).values(
            organization_id=claim.organization_id,
            delivery_id=claim.delivery_id,
            attempted_at=outcome.attempted_at,
            status_code=outcome.status_code,
            duration_ms=outcome.duration_ms,
            error=outcome.error,
            response_body=outcome.response_body,
        )
    )


async def settle(
    db: AsyncSession, claim: Claim, outcome: Outcome, *, retry_at: datetime | None
) -> bool:
    """Record where the delivery stands after `outcome`: delivered, failed until `retry_at`,
    or dead when `retry_at` is None. False if another worker has taken the claim over."""
    if outcome.succeeded:
        status, retry_at = DeliveryStatus.DELIVERED, None
    else:
        status = DeliveryStatus.DEAD if retry_at is None else DeliveryStatus.FAILED
    result = await db.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.organization_id == claim.organization_id,
            WebhookDelivery.id == claim.delivery_id,
            WebhookDelivery.status == DeliveryStatus.DELIVERING,
            WebhookDelivery.attempts == claim.attempts,
        )
        .values(
            status=status,
            next_attempt_at=retry_at or func.now(),
            lease_until=None,
            delivered_at=func.now() if outcome.succeeded else None,
            last_error=outcome.error,
            last_status_code=outcome.status_code,
            updated_at=func.now(),
        )
        .returning(WebhookDelivery.id)
    )
    return result.first() is not None


async def mark_endpoint_healthy(db: AsyncSession, organization_id: UUID, endpoint_id: UUID) -> None:
    await db.execute(
        update(WebhookEndpoint)
        .where(
            WebhookEndpoint.organization_id == organization_id,
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.failing_since.is_not(None),  # no write on the common path
        )
        .values(failing_since=None)
    )


async def mark_endpoint_failing(
    db: AsyncSession, organization_id: UUID, endpoint_id: UUID
) -> datetime | None:
    """Start (or continue) the endpoint's run of failures; returns when it started."""
    result = await db.execute(
        update(WebhookEndpoint)
        .where(
            WebhookEndpoint.organization_id == organization_id,
            WebhookEndpoint.id == endpoint_id,
        )
        .values(failing_since=func.coalesce(WebhookEndpoint.failing_since, func.now()))
        .returning(WebhookEndpoint.failing_since)
    )
    return result.scalar_one_or_none()


async def kill_outstanding(
    db: AsyncSession, organization_id: UUID, endpoint_id: UUID, reason: str
) -> None:
    """Give up on what a disabled endpoint is still owed (it stays redeliverable)."""
    await db.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.organization_id == organization_id,
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.status.in_(OUTSTANDING),
        )
        .values(
            status=DeliveryStatus.DEAD, lease_until=None, last_error=reason, updated_at=func.now()
        )
    )


async def add_delivery(
    db: AsyncSession, organization_id: UUID, event_id: UUID, endpoint_id: UUID
) -> WebhookDelivery:
    delivery = WebhookDelivery(
        organization_id=organization_id,
        event_id=event_id,
        endpoint_id=endpoint_id,
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=datetime.now(UTC),
    )
    db.add(delivery)
    await db.flush()
    await db.execute(select(func.pg_notify(NOTIFY_CHANNEL, "")))  # sent at commit
    return delivery


async def prune_finished(db: AsyncSession, older_than: datetime) -> int:
    """Delete delivered and dead deliveries (and their attempts) last touched before then."""
    result = await db.execute(
        delete(WebhookDelivery)
        .where(
            WebhookDelivery.status.not_in(OUTSTANDING),
            WebhookDelivery.updated_at < older_than,
        )
        .returning(WebhookDelivery.id)
    )
    return len(result.all())


async def due_backlog(db: AsyncSession) -> tuple[int, float]:
    """Deliveries due now and not yet delivered, all organizations, and the age in seconds
    of the oldest of them (0 when none): the queue a worker's metrics report."""
    row = (
        await db.execute(
            select(
                func.count(),
                func.coalesce(
                    func.extract("epoch", func.now() - func.min(WebhookDelivery.created_at)), 0
                ),
            ).where(_is_due())
        )
    ).one()
    return int(row[0]), float(row[1])


async def attempts_of(
    db: AsyncSession, organization_id: UUID, delivery_ids: list[UUID]
) -> dict[UUID, list[Record]]:
    return await rows_grouped_by(
        db, WebhookAttempt, organization_id, "delivery_id", delivery_ids, order_by="attempted_at"
    )


async def list_deliveries(
    db: AsyncSession,
    organization_id: UUID,
    window: Window,
    *,
    endpoint_id: UUID | None = None,
    event_id: UUID | None = None,
    status: DeliveryStatus | None = None,
) -> Page:
    filters = equal_where_given(
        (WebhookDelivery.endpoint_id, endpoint_id),
        (WebhookDelivery.event_id, event_id),
        (WebhookDelivery.status, status),
    )
    return await page(db, WebhookDelivery, organization_id, window, filters)
