from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Index, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from okr_service.kit.models import Base, TenantMixin, tenant_table_args


class Event(TenantMixin, Base):
    """The outbox: one domain event, written in the transaction of the change it describes."""

    __tablename__ = "events"
    __table_args__ = tenant_table_args(
        Index(None, "organization_id", "subject_id", "sequence", unique=True),
        Index(None, "organization_id", "type", "id"),
    )

    type: Mapped[str] = mapped_column(String(60))
    # Which endpoints receive it (an `events.catalog.Audience`, copied from the catalog):
    # the fan-out trigger reads it (migration 0008), the log hides non-`subscribers` events
    # from non-admins.
    audience: Mapped[str] = mapped_column(String(20), server_default="subscribers")
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[UUID]
    # Grows by one with each event of the subject: consumers drop stale, late events.
    sequence: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime]
    # The team the subject belonged to (webhook endpoints may listen to some teams only);
    # the database fans each event out to its deliveries (migration 0006).
    team_id: Mapped[UUID | None]
    actor: Mapped[dict[str, Any]] = mapped_column(JSONB)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # W3C `traceparent` of the operation that caused the event, when it was traced: its
    # webhook deliveries join that trace (okr_service/kit/tracing.py, migration 0009).
    trace_parent: Mapped[str | None] = mapped_column(String(55))
