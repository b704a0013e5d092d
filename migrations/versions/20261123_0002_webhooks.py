"""webhooks: endpoints, one delivery per (event, endpoint), and every attempt

Deliveries are written by the statement that appends an event (okr_service/webhooks/fan_out.py)
and claimed by workers through the partial `outstanding` index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('webhook_endpoints',
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('event_types', sa.ARRAY(sa.String(length=60)), nullable=False),
    sa.Column('team_ids', sa.ARRAY(sa.Uuid()), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('disabled_reason', sa.String(length=200), nullable=True),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('previous_secret', sa.String(length=100), nullable=True),
    sa.Column('previous_secret_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_webhook_endpoints_organization_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints')),
    sa.UniqueConstraint('organization_id', 'id', name=op.f('uq_webhook_endpoints_organization_id_id'))
    )
    op.create_index(op.f('ix_webhook_endpoints_organization_id_enabled'), 'webhook_endpoints', ['organization_id', 'enabled'], unique=False)
    op.create_table('webhook_deliveries',
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('endpoint_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.Enum('PENDING', 'DELIVERING', 'DELIVERED', 'FAILED', 'DEAD', name='deliverystatus', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['organization_id', 'endpoint_id'], ['webhook_endpoints.organization_id', 'webhook_endpoints.id'], name=op.f('fk_webhook_deliveries_organization_id_endpoint_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id', 'event_id'], ['events.organization_id', 'events.id'], name=op.f('fk_webhook_deliveries_organization_id_event_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_webhook_deliveries_organization_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
    sa.UniqueConstraint('organization_id', 'id', name=op.f('uq_webhook_deliveries_organization_id_id'))
    )
    op.create_index('ix_webhook_deliveries_finished', 'webhook_deliveries', ['organization_id', 'updated_at'], unique=False, postgresql_where=sa.text("status NOT IN ('PENDING', 'DELIVERING', 'FAILED')"))
    op.create_index(op.f('ix_webhook_deliveries_organization_id_endpoint_id_id'), 'webhook_deliveries', ['organization_id', 'endpoint_id', 'id'], unique=False)
    op.create_index(op.f('ix_webhook_deliveries_organization_id_event_id'), 'webhook_deliveries', ['organization_id', 'event_id'], unique=False)
    op.create_index('ix_webhook_deliveries_outstanding', 'webhook_deliveries', ['organization_id', 'endpoint_id', 'next_attempt_at'], unique=False, postgresql_where=sa.text("status IN ('PENDING', 'DELIVERING', 'FAILED')"))
    op.create_table('webhook_attempts',
    sa.Column('delivery_id', sa.Uuid(), nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('response_body', sa.Text(), nullable=True),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['organization_id', 'delivery_id'], ['webhook_deliveries.organization_id', 'webhook_deliveries.id'], name=op.f('fk_webhook_attempts_organization_id_delivery_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_webhook_attempts_organization_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_attempts')),
    sa.UniqueConstraint('organization_id', 'id', name=op.f('uq_webhook_attempts_organization_id_id'))
    )
    op.create_index(op.f('ix_webhook_attempts_organization_id_delivery_id'), 'webhook_attempts', ['organization_id', 'delivery_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_webhook_attempts_organization_id_delivery_id'), table_name='webhook_attempts')
    op.drop_table('webhook_attempts')
    op.drop_index('ix_webhook_deliveries_outstanding', table_name='webhook_deliveries', postgresql_where=sa.text("status IN ('PENDING', 'DELIVERING', 'FAILED')"))
    op.drop_index(op.f('ix_webhook_deliveries_organization_id_event_id'), table_name='webhook_deliveries')
    op.drop_index(op.f('ix_webhook_deliveries_organization_id_endpoint_id_id'), table_name='webhook_deliveries')
    op.drop_index('ix_webhook_deliveries_finished', table_name='webhook_deliveries', postgresql_where=sa.text("status NOT IN ('PENDING', 'DELIVERING', 'FAILED')"))
    op.drop_table('webhook_deliveries')
    op.drop_index(op.f('ix_webhook_endpoints_organization_id_enabled'), table_name='webhook_endpoints')
    op.drop_table('webhook_endpoints')
