from datetime import datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import Boolean, CheckConstraint, Index, Integer, Numeric, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from okr_service.kit.models import (
    Base,
    TenantMixin,
    enum_column,
    tenant_reference,
    tenant_table_args,
)
from okr_service.okr.enums import Direction, Health, Indicator, Metric


class KeyResult(TenantMixin, Base):
    """How we know an objective is met: a measurable value moving from start to target."""

    __tablename__ = "key_results"
    __table_args__ = tenant_table_args(
        tenant_reference("objective_id", "objectives", cascade=True),
        tenant_reference("team_id", "teams"),
        CheckConstraint("weight >= 0", name="weight_not_negative"),
        CheckConstraint("confidence BETWEEN 0 AND 1", name="confidence_is_fraction"),
        Index(None, "organization_id", "objective_id"),
        Index(None, "organization_id", "team_id"),
    )

    objective_id: Mapped[UUID]
    # Owning team; differs from the objective's team for a shared OKR.
    team_id: Mapped[UUID]
    title: Mapped[str] = mapped_column(String(200))
    metric: Mapped[Metric] = mapped_column(enum_column(Metric))
    unit: Mapped[str | None] = mapped_column(String(40))
    direction: Mapped[Direction] = mapped_column(enum_column(Direction))
    start_value: Mapped[Decimal | None] = mapped_column(Numeric)
    target_value: Mapped[Decimal] = mapped_column(Numeric)
    current_value: Mapped[Decimal | None] = mapped_column(Numeric)
    weight: Mapped[Decimal] = mapped_column(Numeric, default=Decimal(1))
    confidence: Mapped[Decimal | None] = mapped_column(Numeric)
    indicator: Mapped[Indicator | None] = mapped_column(enum_column(Indicator))
    # The health events last told consumers: set by a person (see health_manual), or the
    # derived health as of the latest write or health sweep. Readers derive it afresh.
    health: Mapped[Health] = mapped_column(enum_column(Health), default=Health.ON_TRACK)
    # Health set by a person (an update, or a check-in that named it) rather than derived
    # from progress against expected progress.
    health_manual: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Set when the cycle closes: the graded result, no longer moving with later values.
    final_score: Mapped[Decimal | None] = mapped_column(Numeric)
    version: Mapped[int] = mapped_column(Integer, default=1)


class CheckIn(TenantMixin, Base):
    """One update of a key result. History: rows are appended, never changed."""

    __tablename__ = "check_ins"
    __table_args__ = tenant_table_args(
        tenant_reference("key_result_id", "key_results", cascade=True),
        CheckConstraint("confidence BETWEEN 0 AND 1", name="confidence_is_fraction"),
        Index(None, "organization_id", "key_result_id", "checked_at"),
    )

    key_result_id: Mapped[UUID]
    value: Mapped[Decimal] = mapped_column(Numeric)
    health: Mapped[Health | None] = mapped_column(enum_column(Health))
    confidence: Mapped[Decimal | None] = mapped_column(Numeric)
    note: Mapped[str | None] = mapped_column(Text)
    blockers: Mapped[str | None] = mapped_column(Text)
    support_needed: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(200))
    checked_at: Mapped[datetime]
