from uuid import UUID

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from okr_service.kit.models import Base, TenantMixin, tenant_reference, tenant_table_args


class Team(TenantMixin, Base):
    """A node of the organisation tree: company, department, team, squad."""

    __tablename__ = "teams"
    __table_args__ = tenant_table_args(
        tenant_reference("parent_id", "teams"),
        Index(None, "organization_id", "parent_id"),
    )

    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[UUID | None]
