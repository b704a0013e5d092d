from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from okr_service.kit.models import Base, TimestampedMixin


class Organization(TimestampedMixin, Base):
    """A tenant. Its id is the `organization_id` of every other row."""

    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(200))
