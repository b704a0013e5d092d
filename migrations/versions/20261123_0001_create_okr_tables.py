"""create okr tables

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23 14:57:24.311058
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('organizations',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organizations'))
    )
    op.create_table('api_keys',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.ARRAY(sa.String(length=16)), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_api_keys_organization_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash')),
    sa.UniqueConstraint('organization_id', 'id', name=op.f('uq_api_keys_organization_id_id'))
    )
    op.create_table('cycles',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('parent_id', sa.Uuid(), nullable=True),
    sa.Column('state', sa.Enum('PLANNING', 'ACTIVE', 'REVIEW', 'CLOSED', name='cyclestate', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('retrospective', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('ends_on >= starts_on', name=op.f('ck_cycles_dates_ordered')),
    sa.ForeignKeyConstraint(['organization_id', 'parent_id'], ['cycles.organization_id', 'cycles.id'], name=op.f('fk_cycles_organization_id_parent_id')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_cycles_organization_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cycles')),
    sa.UniqueConstraint('organization_id', 'id', name=op.f('uq_cycles_organization_id_id'))
    )
    op.create_index(op.f('ix_cycles_organization_id_starts_on'), 'cycles', ['organization_id', 'starts_on'], unique=False)
    op.create_table('events',
    sa.Column('type', sa.String(length=60), nullable=False),
    sa.Column('subject_type', sa.String(length=40), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_events_organization_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sa.UniqueConstraint('organization_id', 'id', name=op.f('uq_events_organization_id_id'))
    )
    op.create_index(op.f('ix_events_organization_id_subject_id_sequence'), 'events', ['organization_id', 'subject_id', 'sequence'], unique=True)
    op.create_index(op.f('ix_events_organization_id_type_id'), 'events', ['organization_id', 'type', 'id'], unique=False)
    op.create_table('teams',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('parent_id', sa.Uuid(), nullable=True),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['organization_id', 'parent_id'], ['teams.organization_id', 'teams.id'], name=op.f('fk_teams_organization_id_parent_id')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_teams_organization_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teams')),
    sa.UniqueConstraint('organization_id', 'id', name=op.f('uq_teams_organization_id_id'))
    )
    op.create_index(op.f('ix_teams_organization_id_parent_id'), 'teams', ['organization_id', 'parent_id'], unique=False)
    op.create_table('initiatives',
    sa.Column('team_id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('status', sa.Enum('PROPOSED', 'PLANNED', 'IN_PROGRESS', 'DONE', 'CANCELLED', 'PARKED', name='initiativestatus', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('shipped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('impact', sa.Integer(), nullable=True),
    sa.Column('confidence', sa.Integer(), nullable=True),
    sa.Column('ease', sa.Integer(), nullable=True),
    sa.Column('external_system', sa.String(length=40), nullable=True),
    sa.Column('external_key', sa.String(length=200), nullable=True),
    sa.Column('external_url', sa.String(length=2000), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('confidence BETWEEN 1 AND 10', name=op.f('ck_initiatives_confidence_in_range')),
    sa.CheckConstraint('ease BETWEEN 1 AND 10', name=op.f('ck_initiatives_ease_in_range')),
    sa.CheckConstraint('impact BETWEEN 1 AND 10', name=op.f('ck_initiatives_impact_in_range')),
    sa.ForeignKeyConstraint(['organization_id', 'team_id'], ['teams.organization_id', 'teams.id'], name=op.f('fk_initiatives_organization_id_team_id')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_initiatives_organization_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_initiatives')),
    sa.UniqueConstraint('organization_id', 'id', name=op.f('uq_initiatives_organization_id_id'))
    )
    op.create_index(op.f('ix_initiatives_organization_id_external_system_external_key'), 'initiatives', ['organization_id', 'external_system', 'external_key'], unique=False)
    op.create_index(op.f('ix_initiatives_organization_id_team_id'), 'initiatives', ['organization_id', 'team_id'], unique=False)
    op.create_table('objectives',
    sa.Column('team_id', sa.Uuid(), nullable=False),
    sa.Column('cycle_id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('owner', sa.String(length=200), nullable=True),
    sa.Column('kind', sa.Enum('COMMITTED', 'ASPIRATIONAL', name='objectivekind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('state', sa.Enum('DRAFT', 'ACTIVE', 'CLOSED', 'CANCELLED', name='objectivestate', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('health', sa.Enum('ON_TRACK', 'AT_RISK', 'OFF_TRACK', name='health', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('health_manual', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('progress_mode', sa.Enum('KEY_RESULTS', 'ALIGNED', 'BOTH', name='progressmode', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('origin_id', sa.Uuid(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['organization_id', 'cycle_id'], ['cycles.organization_id', 'cycles.id'], name=op.f('fk_objectives_organization_id_cycle_id')),
    sa.ForeignKeyConstraint(['organization_id', 'team_id'], ['teams.organization_id', 'teams.id'], name=op.f('fk_objectives_organization_id_team_id')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_objectives_organization_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_objectives')),
    sa.UniqueConstraint('organization_id', 'id', name=op.f('uq_objectives_organization_id_id'))
    )
    op.create_index(op.f('ix_objectives_organization_id_cycle_id_team_id'), 'objectives', ['organization_id', 'cycle_id', 'team_id'], unique=False)
    op.create_index(op.f('ix_objectives_organization_id_team_id'), 'objectives', ['organization_id', 'team_id'], unique=False)
    op.create_table('key_results',
    sa.Column('objective_id', sa.Uuid(), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('metric', sa.Enum('NUMBER', 'PERCENTAGE', 'CURRENCY', 'MILESTONE', name='metric', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('unit', sa.String(length=40), nullable=True),
    sa.Column('direction', sa.Enum('INCREASE', 'DECREASE', 'AT_LEAST', 'AT_MOST', name='direction', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('start_value', sa.Numeric(), nullable=True),
    sa.Column('target_value', sa.Numeric(), nullable=False),
    sa.Column('current_value', sa.Numeric(), nullable=True),
    sa.Column('weight', sa.Numeric(), nullable=False),
    sa.Column('confidence', sa.Numeric(), nullable=True),
    sa.Column('indicator', sa.Enum('LEADING', 'LAGGING', name='indicator', native_enum=False, create_constraint=True, length=24), nullable=True),
    sa.Column('health', sa.Enum('ON_TRACK', 'AT_RISK', 'OFF_TRACK', name='health', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('health_manual', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('final_score', sa.Numeric(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('confidence BETWEEN 0 AND 1', name=op.f('ck_key_results_confidence_is_fraction')),
    sa.CheckConstraint('weight >= 0', name=op.f('ck_key_results_weight_not_negative')),
    sa.ForeignKeyConstraint(['organization_id', 'objective_id'], ['objectives.organization_id', 'objectives.id'], name=op.f('fk_key_results_organization_id_objective_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id', 'team_id'], ['teams.organization_id', 'teams.id'], name=op.f('fk_key_results_organization_id_team_id')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_key_results_organization_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_key_results')),
    sa.UniqueConstraint('organization_id', 'id', name=op.f('uq_key_results_organization_id_id'))
    )
    op.create_index(op.f('ix_key_results_organization_id_objective_id'), 'key_results', ['organization_id', 'objective_id'], unique=False)
    op.create_index(op.f('ix_key_results_organization_id_team_id'), 'key_results', ['organization_id', 'team_id'], unique=False)
    op.create_table('alignment_links',
    sa.Column('kind', sa.Enum('CONTRIBUTES_TO', 'RELATES_TO', 'DEPENDS_ON', name='alignmentkind', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('source_objective_id', sa.Uuid(), nullable=False),
    sa.Column('target_objective_id', sa.Uuid(), nullable=True),
    sa.Column('target_key_result_id', sa.Uuid(), nullable=True),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('num_nonnulls(target_objective_id, target_key_result_id) = 1', name=op.f('ck_alignment_links_one_target')),
    sa.CheckConstraint('source_objective_id <> target_objective_id', name=op.f('ck_alignment_links_not_self')),
    sa.ForeignKeyConstraint(['organization_id', 'source_objective_id'], ['objectives.organization_id', 'objectives.id'], name=op.f('fk_alignment_links_organization_id_source_objective_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id', 'target_key_result_id'], ['key_results.organization_id', 'key_results.id'], name=op.f('fk_alignment_links_organization_id_target_key_result_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id', 'target_objective_id'], ['objectives.organization_id', 'objectives.id'], name=op.f('fk_alignment_links_organization_id_target_objective_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_alignment_links_organization_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alignment_links')),
    sa.UniqueConstraint('organization_id', 'id', name=op.f('uq_alignment_links_organization_id_id'))
    )
    op.create_index(op.f('ix_alignment_links_organization_id_target_key_result_id'), 'alignment_links', ['organization_id', 'target_key_result_id'], unique=False)
    op.create_index(op.f('ix_alignment_links_organization_id_target_objective_id'), 'alignment_links', ['organization_id', 'target_objective_id'], unique=False)
    op.create_index('uq_alignment_links_edge', 'alignment_links', ['organization_id', 'source_objective_id', 'kind', sa.literal_column('coalesce(target_objective_id, target_key_result_id)')], unique=True)
    op.create_table('check_ins',
    sa.Column('key_result_id', sa.Uuid(), nullable=False),
    sa.Column('value', sa.Numeric(), nullable=False),
    sa.Column('health', sa.Enum('ON_TRACK', 'AT_RISK', 'OFF_TRACK', name='health', native_enum=False, create_constraint=True, length=24), nullable=True),
    sa.Column('confidence', sa.Numeric(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('blockers', sa.Text(), nullable=True),
    sa.Column('support_needed', sa.Text(), nullable=True),
    sa.Column('author', sa.String(length=200), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('confidence BETWEEN 0 AND 1', name=op.f('ck_check_ins_confidence_is_fraction')),
    sa.ForeignKeyConstraint(['organization_id', 'key_result_id'], ['key_results.organization_id', 'key_results.id'], name=op.f('fk_check_ins_organization_id_key_result_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_check_ins_organization_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_check_ins')),
    sa.UniqueConstraint('organization_id', 'id', name=op.f('uq_check_ins_organization_id_id'))
    )
    op.create_index(op.f('ix_check_ins_organization_id_key_result_id_checked_at'), 'check_ins', ['organization_id', 'key_result_id', 'checked_at'], unique=False)
    op.create_table('initiative_key_results',
    sa.Column('initiative_id', sa.Uuid(), nullable=False),
    sa.Column('key_result_id', sa.Uuid(), nullable=False),
    sa.Column('expected_impact', sa.Numeric(), nullable=True),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['organization_id', 'initiative_id'], ['initiatives.organization_id', 'initiatives.id'], name=op.f('fk_initiative_key_results_organization_id_initiative_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id', 'key_result_id'], ['key_results.organization_id', 'key_results.id'], name=op.f('fk_initiative_key_results_organization_id_key_result_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_initiative_key_results_organization_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_initiative_key_results')),
    sa.UniqueConstraint('organization_id', 'id', name=op.f('uq_initiative_key_results_organization_id_id')),
    sa.UniqueConstraint('organization_id', 'initiative_id', 'key_result_id', name='uq_initiative_key_results_link')
    )
    op.create_index(op.f('ix_initiative_key_results_organization_id_key_result_id'), 'initiative_key_results', ['organization_id', 'key_result_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_initiative_key_results_organization_id_key_result_id'), table_name='initiative_key_results')
    op.drop_table('initiative_key_results')
    op.drop_index(op.f('ix_check_ins_organization_id_key_result_id_checked_at'), table_name='check_ins')
    op.drop_table('check_ins')
    op.drop_index('uq_alignment_links_edge', table_name='alignment_links')
    op.drop_index(op.f('ix_alignment_links_organization_id_target_objective_id'), table_name='alignment_links')
    op.drop_index(op.f('ix_alignment_links_organization_id_target_key_result_id'), table_name='alignment_links')
    op.drop_table('alignment_links')
    op.drop_index(op.f('ix_key_results_organization_id_team_id'), table_name='key_results')
    op.drop_index(op.f('ix_key_results_organization_id_objective_id'), table_name='key_results')
    op.drop_table('key_results')
    op.drop_index(op.f('ix_objectives_organization_id_team_id'), table_name='objectives')
    op.drop_index(op.f('ix_objectives_organization_id_cycle_id_team_id'), table_name='objectives')
    op.drop_table('objectives')
    op.drop_index(op.f('ix_initiatives_organization_id_team_id'), table_name='initiatives')
    op.drop_index(op.f('ix_initiatives_organization_id_external_system_external_key'), table_name='initiatives')
    op.drop_table('initiatives')
    op.drop_index(op.f('ix_teams_organization_id_parent_id'), table_name='teams')
    op.drop_table('teams')
    op.drop_index(op.f('ix_events_organization_id_type_id'), table_name='events')
    op.drop_index(op.f('ix_events_organization_id_subject_id_sequence'), table_name='events')
    op.drop_table('events')
    op.drop_index(op.f('ix_cycles_organization_id_starts_on'), table_name='cycles')
    op.drop_table('cycles')
    op.drop_table('api_keys')
    op.drop_table('organizations')
