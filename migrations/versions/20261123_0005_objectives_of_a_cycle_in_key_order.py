"""objectives of a cycle in key order

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 16:23:01.118810
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


INDEX = "ix_objectives_organization_id_cycle_id_id"


def upgrade() -> None:
    # Inside the migration's transaction (the service migrates through one connection); on a
    # very large table, build it beforehand with CREATE INDEX CONCURRENTLY under this name.
    op.create_index(op.f(INDEX), "objectives", ["organization_id", "cycle_id", "id"])


def downgrade() -> None:
    op.drop_index(op.f(INDEX), table_name="objectives")
