from uuid import UUID

from sqlalchemy import Boolean, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from okr_service.kit.models import (
    Base,
    TenantMixin,
    enum_column,
    tenant_reference,
    tenant_table_args,
)
from okr_service.okr.enums import Health, ObjectiveKind, ObjectiveState, ProgressMode


class Objective(TenantMixin, Base):
    """What a team wants to achieve in a cycle."""

    __tablename__ = "objectives"
    __table_args__ = tenant_table_args(
        tenant_reference("team_id", "teams"),
        tenant_reference("cycle_id", "cycles"),
        # A cycle's objectives page in key order (keyset pagination) without sorting.
        Index(None, "organization_id", "cycle_id", "id"),
        Index(None, "organization_id", "cycle_id", "team_id"),
        Index(None, "organization_id", "team_id"),
    )

    team_id: Mapped[UUID]
    cycle_id: Mapped[UUID]
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[ObjectiveKind] = mapped_column(enum_column(ObjectiveKind))
    state: Mapped[ObjectiveState] = mapped_column(
        enum_column(ObjectiveState), default=ObjectiveState.DRAFT
    )
    # The health events last told consumers: set by a person (see health_manual), or the
    # derived health as of the latest write or health sweep. Readers derive it afresh.
    health: Mapped[Health] = mapped_column(enum_column(Health), default=Health.ON_TRACK)
    # Health set by a person (an update, or a check-in that named it) rather than derived
    # from progress against expected progress.
    health_manual: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    progress_mode: Mapped[ProgressMode] = mapped_column(
        enum_column(ProgressMode), default=ProgressMode.KEY_RESULTS
    )
    # The objective this one was carried over from; kept as a plain reference so the
    # origin may still be deleted.
    origin_id: Mapped[UUID | None] = mapped_column(info={"references": "objectives"})
    version: Mapped[int] = mapped_column(Integer, default=1)
