"""event trace parent: the W3C traceparent of the operation that caused an event

Written only when the service traces (OTEL_* set); a webhook delivery of the event is
then a span of that trace, and its request carries the `traceparent` header, so a
receiver can join the trace. A nullable column: adding it rewrites nothing.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column("events", sa.Column("trace_parent", sa.String(length=55), nullable=True))


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_column("events", "trace_parent")
