from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import CheckConstraint, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from okr_service.kit.models import (
    Base,
    TenantMixin,
    enum_column,
    tenant_reference,
    tenant_table_args,
)
from okr_service.okr.enums import InitiativeStatus


class Initiative(TenantMixin, Base):
    """Work expected to move key results; usually mirrors a roadmap tool's item."""

    __tablename__ = "initiatives"
    __table_args__ = tenant_table_args(
        tenant_reference("team_id", "teams"),
        *(
            CheckConstraint(f"{score} BETWEEN 1 AND 10", name=f"{score}_in_range")
            for score in ("impact", "confidence", "ease")
        ),
        Index(None, "organization_id", "team_id"),
        Index(None, "organization_id", "external_system", "external_key"),
    )

    team_id: Mapped[UUID]
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[InitiativeStatus] = mapped_column(
        enum_column(InitiativeStatus), default=InitiativeStatus.PROPOSED
    )
    start_date: Mapped[date | None]
    shipped_at: Mapped[datetime | None]
    # ICE scoring, each 1..10.
    impact: Mapped[int | None] = mapped_column(Integer)
    confidence: Mapped[int | None] = mapped_column(Integer)
    ease: Mapped[int | None] = mapped_column(Integer)
    external_system: Mapped[str | None] = mapped_column(String(40))
    external_key: Mapped[str | None] = mapped_column(String(200))
    external_url: Mapped[str | None] = mapped_column(String(2000))
    version: Mapped[int] = mapped_column(Integer, default=1)


class InitiativeKeyResult(TenantMixin, Base):
    """An initiative expected to move a key result by `expected_impact` (in the KR's unit)."""

    __tablename__ = "initiative_key_results"
    __table_args__ = tenant_table_args(
        tenant_reference("initiative_id", "initiatives", cascade=True),
        tenant_reference("key_result_id", "key_results", cascade=True),
        UniqueConstraint(
            "organization_id",
            "initiative_id",
            "key_result_id",
            name="uq_initiative_key_results_link",
        ),
        Index(None, "organization_id", "key_result_id"),
    )

    initiative_id: Mapped[UUID]
    key_result_id: Mapped[UUID]
    expected_impact: Mapped[Decimal | None] = mapped_column(Numeric)
