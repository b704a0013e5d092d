from uuid import UUID

from sqlalchemy import CheckConstraint, Index, text
from sqlalchemy.orm import Mapped, mapped_column

from okr_service.kit.models import (
    Base,
    TenantMixin,
    enum_column,
    tenant_reference,
    tenant_table_args,
)
from okr_service.okr.enums import AlignmentKind


class AlignmentLink(TenantMixin, Base):
    """How OKRs connect: an objective points at one objective or one key result."""

    __tablename__ = "alignment_links"
    __table_args__ = tenant_table_args(
        tenant_reference("source_objective_id", "objectives", cascade=True),
        tenant_reference("target_objective_id", "objectives", cascade=True),
        tenant_reference("target_key_result_id", "key_results", cascade=True),
        CheckConstraint(
            "num_nonnulls(target_objective_id, target_key_result_id) = 1", name="one_target"
        ),
        CheckConstraint("source_objective_id <> target_objective_id", name="not_self"),
        Index(
            "uq_alignment_links_edge",
            "organization_id",
            "source_objective_id",
            "kind",
            text("coalesce(target_objective_id, target_key_result_id)"),
            unique=True,
        ),
        Index(None, "organization_id", "target_objective_id"),
        Index(None, "organization_id", "target_key_result_id"),
    )

    kind: Mapped[AlignmentKind] = mapped_column(enum_column(AlignmentKind))
    source_objective_id: Mapped[UUID]
    target_objective_id: Mapped[UUID | None]
    target_key_result_id: Mapped[UUID | None]
