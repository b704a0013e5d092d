"""The declarative base every table builds on: UUIDv7 keys, tenant column, timestamps."""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import (
    DateTime,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    MetaData,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.sql.schema import SchemaItem
from uuid_utils.compat import uuid7

# Stable constraint names, so Alembic migrations never depend on the database's own naming.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True)}
    # Server-side defaults come back through RETURNING at flush: no lazy load afterwards.
    __mapper_args__ = {"eager_defaults": True}


class TimestampedMixin:
    # UUIDv7 keys sort by creation time: cursors paginate on the key alone.
    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid7)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class TenantMixin(TimestampedMixin):
    """A row owned by one organization.

    `(organization_id, id)` is unique so that other tables reference rows through a
    composite foreign key including the tenant: a reference can never cross tenants.
    """

    @declared_attr
    def organization_id(cls) -> Mapped[UUID]:
        return mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))


def tenant_table_args(*items: SchemaItem) -> tuple[SchemaItem, ...]:
    """`__table_args__` of a tenant table: its `(organization_id, id)` key plus `items`."""
    return (UniqueConstraint("organization_id", "id"), *items)


def tenant_reference(column: str, table: str, *, cascade: bool = False) -> ForeignKeyConstraint:
    """A foreign key that includes the tenant, so a row can only point inside its organization."""
    return ForeignKeyConstraint(
        ["organization_id", column],
        [f"{table}.organization_id", f"{table}.id"],
        ondelete="CASCADE" if cascade else None,
    )


def enum_column(enum: type[StrEnum]) -> Enum:
    """A VARCHAR with a CHECK constraint: easier to evolve than a native PostgreSQL enum."""
    return Enum(
        enum, native_enum=False, create_constraint=True, length=24, name=enum.__name__.lower()
    )
