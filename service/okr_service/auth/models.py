from datetime import datetime

from sqlalchemy import ARRAY, String
from sqlalchemy.orm import Mapped, mapped_column

from okr_service.kit.models import Base, TenantMixin, tenant_table_args


class ApiKey(TenantMixin, Base):
    """A service credential. Only the SHA-256 of the secret is stored."""

    __tablename__ = "api_keys"
    __table_args__ = tenant_table_args()

    name: Mapped[str] = mapped_column(String(200))
    # Looked up before the tenant is known, so this is the one index not led by the tenant.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
