from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import CheckConstraint, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from okr_service.kit.models import (
    Base,
    TenantMixin,
    enum_column,
    tenant_reference,
    tenant_table_args,
)
from okr_service.okr.enums import CycleState


class Cycle(TenantMixin, Base):
    """The period OKRs live in; cycles nest (a year holds its quarters)."""

    __tablename__ = "cycles"
    __table_args__ = tenant_table_args(
        tenant_reference("parent_id", "cycles"),
        CheckConstraint("ends_on >= starts_on", name="dates_ordered"),
        Index(None, "organization_id", "starts_on"),
    )

    name: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    parent_id: Mapped[UUID | None]
    state: Mapped[CycleState] = mapped_column(enum_column(CycleState), default=CycleState.PLANNING)
    retrospective: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
