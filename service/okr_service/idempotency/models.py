from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from okr_service.kit.models import Base, TenantMixin, tenant_table_args


class IdempotencyKey(TenantMixin, Base):
    """A request made with an `Idempotency-Key` header, and the response it got.

    Written in the transaction of the request itself: a request that rolled back leaves no
    key, so its retry runs again; one that committed is answered from here.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = tenant_table_args(UniqueConstraint("organization_id", "key"))

    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
