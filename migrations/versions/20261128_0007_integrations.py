"""integrations: inbound roadmap-tool webhooks (Linear, Jira, GitHub)

An integration is one provider webhook pointed at okr-service, with its signing secret and
state mapping. Every request it receives is logged as a delivery (applied, ignored or
rejected, with a reason); the provider's delivery id makes replays no-ops. The watermark
table remembers, per provider object, the newest provider `updated_at` applied, so that
an older delivery arriving late never rolls a status back.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 02:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "okr_tenant"
CURRENT_ORGANIZATION = "NULLIF(current_setting('okr.organization_id', true), '')::uuid"
TABLES = ("integrations", "integration_deliveries", "integration_watermarks")


def _tenant_columns() -> list[Any]:
    return [
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    ]


def _tenant_keys(table: str) -> list[Any]:
    return [
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f(f"fk_{table}_organization_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("organization_id", "id", name=op.f(f"uq_{table}_organization_id_id")),
    ]


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=24)


def upgrade() -> None:
    op.create_table(
        "integrations",
        sa.Column("provider", _enum("provider", "LINEAR", "JIRA", "GITHUB"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("status_mapping", postgresql.JSONB(), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("previous_secret", sa.String(length=100), nullable=True),
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
        *_tenant_columns(),
        *_tenant_keys("integrations"),
        sa.ForeignKeyConstraint(
            ["organization_id", "team_id"],
            ["teams.organization_id", "teams.id"],
            name=op.f("fk_integrations_organization_id_team_id"),
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "integration_deliveries",
        sa.Column("integration_id", sa.Uuid(), nullable=False),
        sa.Column("provider_delivery_id", sa.String(length=200), nullable=True),
        sa.Column(
            "outcome",
            _enum("deliveryoutcome", "RECEIVED", "APPLIED", "IGNORED", "REJECTED"),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=60), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("event_name", sa.String(length=100), nullable=True),
        sa.Column("object_key", sa.String(length=200), nullable=True),
        sa.Column("provider_state", sa.String(length=100), nullable=True),
        sa.Column("provider_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=True),
        sa.Column("initiative_ids", sa.ARRAY(sa.Uuid()), nullable=False),
        *_tenant_columns(),
        *_tenant_keys("integration_deliveries"),
        sa.ForeignKeyConstraint(
            ["organization_id", "integration_id"],
            ["integrations.organization_id", "integrations.id"],
            name=op.f("fk_integration_deliveries_organization_id_integration_id"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        op.f("ix_integration_deliveries_organization_id_integration_id_id"),
        "integration_deliveries",
        ["organization_id", "integration_id", "id"],
    )
    # Idempotency: one verified delivery per provider delivery id. Rejected ones stay out,
    # so an unsigned request cannot reserve the id of a genuine delivery still to come.
    op.create_index(
        "ix_integration_deliveries_provider_delivery",
        "integration_deliveries",
        ["organization_id", "integration_id", "provider_delivery_id"],
        unique=True,
        postgresql_where=sa.text("outcome <> 'REJECTED' AND provider_delivery_id IS NOT NULL"),
    )
    op.create_index(
        "ix_integration_deliveries_created",
        "integration_deliveries",
        ["organization_id", "created_at"],
    )
    op.create_table(
        "integration_watermarks",
        sa.Column("provider", _enum("provider", "LINEAR", "JIRA", "GITHUB"), nullable=False),
        sa.Column("object_key", sa.String(length=200), nullable=False),
        sa.Column("provider_updated_at", sa.DateTime(timezone=True), nullable=False),
        *_tenant_columns(),
        *_tenant_keys("integration_watermarks"),
        sa.UniqueConstraint(
            "organization_id",
            "provider",
            "object_key",
            name=op.f("uq_integration_watermarks_organization_id_provider_object_key"),
        ),
    )
    for table in TABLES:
        _protect(table)


def _protect(table: str) -> None:
    """Row-level security as every tenant table has it (see 0004)."""
    condition = f"organization_id = {CURRENT_ORGANIZATION}"
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} USING ({condition}) WITH CHECK ({condition})"
    )
    op.execute(
        f"CREATE POLICY owner_crosses_tenants ON {table} TO CURRENT_USER USING (true) "
        "WITH CHECK (true)"
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {ROLE}")


def downgrade() -> None:
    for table in reversed(TABLES):
        op.execute(f"REVOKE ALL ON {table} FROM {ROLE}")
    op.drop_table("integration_watermarks")
    op.drop_index("ix_integration_deliveries_created", table_name="integration_deliveries")
    op.drop_index(
        "ix_integration_deliveries_provider_delivery", table_name="integration_deliveries"
    )
    op.drop_index(
        op.f("ix_integration_deliveries_organization_id_integration_id_id"),
        table_name="integration_deliveries",
    )
    op.drop_table("integration_deliveries")
    op.drop_table("integrations")
