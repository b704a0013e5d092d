"""Inbound roadmap-tool webhooks: the integrations, every request they received, and the
newest provider version seen of each linked object."""

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import ARRAY, Index, Integer, String, UniqueConstraint, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from okr_service.kit.models import (
    Base,
    TenantMixin,
    enum_column,
    tenant_reference,
    tenant_table_args,
)


class Provider(StrEnum):
    LINEAR = "linear"
    JIRA = "jira"
    GITHUB = "github"


class DeliveryOutcome(StrEnum):
    RECEIVED = "received"  # verified and claimed; applied in the same transaction
    APPLIED = "applied"  # moved at least one initiative
    IGNORED = "ignored"  # verified, nothing to change (see `reason`)
    REJECTED = "rejected"  # refused: signature, size or body (see `reason`)


class Integration(TenantMixin, Base):
    """One provider webhook pointed at okr-service, with its signing secret and mapping.

    Secrets are stored in clear because HMAC verification needs them; they never leave this
    table after creation (not in GraphQL, events or logs).
    """

    __tablename__ = "integrations"
    __table_args__ = tenant_table_args(tenant_reference("team_id", "teams", cascade=True))

    provider: Mapped[Provider] = mapped_column(enum_column(Provider))
    name: Mapped[str] = mapped_column(String(200))
    # Only initiatives of this team (and the teams below it) follow the provider; none: all.
    team_id: Mapped[UUID | None]
    # Provider state -> InitiativeStatus name (or null: leave alone), over the defaults.
    status_mapping: Mapped[dict[str, Any]] = mapped_column(JSONB)
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None]


# Deliveries that hold their provider delivery id: a replay of one changes nothing.
CLAIMED_SQL = f"outcome <> '{DeliveryOutcome.REJECTED.name}' AND provider_delivery_id IS NOT NULL"


class IntegrationDelivery(TenantMixin, Base):
    """One request an integration received, and what came of it."""

    __tablename__ = "integration_deliveries"
    __table_args__ = tenant_table_args(
        tenant_reference("integration_id", "integrations", cascade=True),
        Index(None, "organization_id", "integration_id", "id"),
        # Rejected requests stay out: an unsigned request cannot reserve the id of a genuine
        # delivery still to come.
        Index(
            "ix_integration_deliveries_provider_delivery",
            "organization_id",
            "integration_id",
            "provider_delivery_id",
            unique=True,
            postgresql_where=text(CLAIMED_SQL),
        ),
        # Retention pruning.
        Index("ix_integration_deliveries_created", "organization_id", "created_at"),
    )

    integration_id: Mapped[UUID]
    provider_delivery_id: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[DeliveryOutcome] = mapped_column(enum_column(DeliveryOutcome))
    reason: Mapped[str | None] = mapped_column(String(60))  # a stable code
    detail: Mapped[str | None] = mapped_column(String(500))
    http_status: Mapped[int] = mapped_column(Integer)
    event_name: Mapped[str | None] = mapped_column(String(100))
    object_key: Mapped[str | None] = mapped_column(String(200))
    provider_state: Mapped[str | None] = mapped_column(String(100))
    provider_updated_at: Mapped[datetime | None]
    status: Mapped[str | None] = mapped_column(String(24))  # the InitiativeStatus mapped to
    initiative_ids: Mapped[list[UUID]] = mapped_column(ARRAY(Uuid()), default=list)


class IntegrationWatermark(TenantMixin, Base):
    """The newest provider `updated_at` applied for one object of a provider: an older
    delivery arriving after it never rolls a status back."""

    __tablename__ = "integration_watermarks"
    __table_args__ = tenant_table_args(
        UniqueConstraint("organization_id", "provider", "object_key")
    )

    provider: Mapped[Provider] = mapped_column(enum_column(Provider))
    object_key: Mapped[str] = mapped_column(String(200))
    provider_updated_at: Mapped[datetime]
