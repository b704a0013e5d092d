"""Webhook subscriptions, one delivery per (event, endpoint), and every attempt at it."""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import ARRAY, Boolean, Index, Integer, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from okr_service.kit.models import (
    Base,
    TenantMixin,
    enum_column,
    tenant_reference,
    tenant_table_args,
)


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its first attempt
    DELIVERING = "delivering"  # claimed by a worker until `lease_until`
    DELIVERED = "delivered"
    FAILED = "failed"  # the last attempt failed; another is due at `next_attempt_at`
    DEAD = "dead"  # no attempt left (or the endpoint was disabled); redeliverable


# Deliveries a worker may still claim; the claim index holds only these.
OUTSTANDING = (DeliveryStatus.PENDING, DeliveryStatus.DELIVERING, DeliveryStatus.FAILED)
_OUTSTANDING_SQL = ", ".join(f"'{status.name}'" for status in OUTSTANDING)


class WebhookEndpoint(TenantMixin, Base):
    """A subscriber's URL, what it wants to hear about, and its signing secrets.

    Secrets are stored in clear because HMAC signing needs them; they never leave this table
    except as signatures (never in GraphQL after creation, events or logs).
    """

    __tablename__ = "webhook_endpoints"
    __table_args__ = tenant_table_args(
        # Fan-out reads the enabled endpoints of one organization with every event.
        Index(None, "organization_id", "enabled"),
    )

    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(Text)
    # Empty: every event type (but `webhook.test`, which goes to its endpoint only).
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(60)))
    # Empty: every team. Events of objects without a team (cycles...) ignore this filter.
    team_ids: Mapped[list[UUID]] = mapped_column(ARRAY(Uuid()))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None]
    # Start of the current run of failures; none since the last success.
    failing_since: Mapped[datetime | None]


class WebhookDelivery(TenantMixin, Base):
    """One event owed to one endpoint. Written with the event, in its transaction."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = tenant_table_args(
        tenant_reference("event_id", "events", cascade=True),
        tenant_reference("endpoint_id", "webhook_endpoints", cascade=True),
        Index(None, "organization_id", "endpoint_id", "id"),
        Index(None, "organization_id", "event_id"),
        # Workers probe it per endpoint for due rows; delivered and dead rows drop out,
        # so it stays small however long the history.
        Index(
            "ix_webhook_deliveries_outstanding",
            "organization_id",
            "endpoint_id",
            "next_attempt_at",
            postgresql_where=text(f"status IN ({_OUTSTANDING_SQL})"),
        ),
        # Per-object order: a delivery waits while an earlier event of its object is owed to
        # its endpoint (one probe per candidate, outstanding rows only).
        Index(
            "ix_webhook_deliveries_outstanding_by_subject",
            "organization_id",
            "endpoint_id",
            "subject_id",
            "sequence",
            postgresql_where=text(f"status IN ({_OUTSTANDING_SQL})"),
        ),
        # Retention pruning.
        Index(
            "ix_webhook_deliveries_finished",
            "organization_id",
            "updated_at",
            postgresql_where=text(f"status NOT IN ({_OUTSTANDING_SQL})"),
        ),
    )

    event_id: Mapped[UUID]
    endpoint_id: Mapped[UUID]
    # The event's subject and sequence (copied by the fan-out trigger): what per-object
    # order is kept by. Null on deliveries older than migration 0008: not ordered.
    subject_id: Mapped[UUID | None]
    sequence: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_column(DeliveryStatus), default=DeliveryStatus.PENDING
    )
    # Claims so far; also fences a worker whose lease was taken over from recording late.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status_code: Mapped[int | None] = mapped_column(Integer)


class WebhookAttempt(TenantMixin, Base):
    """One HTTP request made for a delivery, and what came back."""

    __tablename__ = "webhook_attempts"
    __table_args__ = tenant_table_args(
        tenant_reference("delivery_id", "webhook_deliveries", cascade=True),
        Index(None, "organization_id", "delivery_id"),
    )

    delivery_id: Mapped[UUID]
    attempted_at: Mapped[datetime]
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    # The first KiB of the response, decoded leniently.
    response_body: Mapped[str | None] = mapped_column(Text)
