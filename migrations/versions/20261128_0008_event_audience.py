"""event audience and per-object order: who hears of an event, and in which order

The event catalog (okr_service/events/catalog.py) says who hears of each type; every event row
now carries it (`audience`), so the fan-out trigger needs no list of its own:
`subscribers` go to endpoints subscribed to all types or to this one, `named` (API keys,
webhook endpoints) only to endpoints listing the type by name, `own_endpoint`
(`webhook.test`) only to the endpoint it tests. Events already logged get the audience
their type has in the catalog (admin-only ones were those about API keys and endpoints).

Each delivery also carries its event's subject and sequence, so a worker can hold back a
delivery while an earlier event of the same object is still owed to the same endpoint
(index `outstanding_by_subject`, outstanding rows only). Outstanding deliveries get them
from their events; finished ones keep nulls (nothing is ordered behind them).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 02:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in 0006: rows made by INSERT ... SELECT need server-side, time-ordered keys.
UUID7 = (
    "encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing "
    "substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) "
    "from 3) from 1 for 6), 52, 1), 53, 1), 'hex')::uuid"
)


def fan_out(audience_rule: str, *, ordered: bool) -> str:
    """The trigger function of 0006 with another rule for which endpoints match (and, if
    `ordered`, the subject and sequence copied onto each delivery)."""
    subject_columns = ", subject_id, sequence" if ordered else ""
    subject_values = ", NEW.subject_id, NEW.sequence" if ordered else ""
    return f"""
CREATE OR REPLACE FUNCTION okr_event_fan_out() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO webhook_deliveries
        (id, organization_id, event_id, endpoint_id, status, attempts, next_attempt_at
         {subject_columns})
    SELECT {UUID7}, NEW.organization_id, NEW.id, endpoint.id, 'PENDING', 0, now()
           {subject_values}
    FROM webhook_endpoints AS endpoint
    WHERE endpoint.organization_id = NEW.organization_id
      AND endpoint.enabled
      AND {audience_rule};
    IF FOUND THEN
        PERFORM pg_notify('okr_webhook_deliveries', '');
    END IF;
    RETURN NULL;
END
$$
"""  # noqa: S608 - fixed SQL of this module, nothing from outside


TEAM_RULE = """(NEW.team_id IS NULL
                OR cardinality(endpoint.team_ids) = 0
                OR NEW.team_id = ANY(endpoint.team_ids))"""

BY_AUDIENCE = f"""CASE NEW.audience
          WHEN 'own_endpoint' THEN endpoint.id = NEW.subject_id
          WHEN 'named' THEN NEW.type = ANY(endpoint.event_types)
          ELSE (cardinality(endpoint.event_types) = 0 OR NEW.type = ANY(endpoint.event_types))
           AND {TEAM_RULE}
      END"""

OUTSTANDING = "'PENDING', 'DELIVERING', 'FAILED'"

# Migration 0006's rule, for the downgrade.
BY_TYPE = f"""CASE
          WHEN NEW.type = 'webhook.test' THEN endpoint.id = NEW.subject_id
          ELSE (cardinality(endpoint.event_types) = 0 OR NEW.type = ANY(endpoint.event_types))
           AND {TEAM_RULE}
      END"""


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column(
        "events",
        sa.Column("audience", sa.String(length=20), server_default="subscribers", nullable=False),
    )
    op.execute(
        "UPDATE events SET audience = 'named' "
        "WHERE subject_type IN ('ApiKey', 'WebhookEndpoint') AND type <> 'webhook.test'"
    )
    op.execute("UPDATE events SET audience = 'own_endpoint' WHERE type = 'webhook.test'")
    op.add_column("webhook_deliveries", sa.Column("subject_id", sa.Uuid(), nullable=True))
    op.add_column("webhook_deliveries", sa.Column("sequence", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE webhook_deliveries AS delivery "
        "SET subject_id = event.subject_id, sequence = event.sequence FROM events AS event "
        "WHERE event.organization_id = delivery.organization_id "
        "AND event.id = delivery.event_id "
        "AND delivery.status IN ('PENDING', 'DELIVERING', 'FAILED')"
    )
    op.create_index(
        "ix_webhook_deliveries_outstanding_by_subject",
        "webhook_deliveries",
        ["organization_id", "endpoint_id", "subject_id", "sequence"],
        unique=False,
        postgresql_where=sa.text(f"status IN ({OUTSTANDING})"),
    )
    op.execute(fan_out(BY_AUDIENCE, ordered=True))


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(fan_out(BY_TYPE, ordered=False))
    op.drop_index(
        "ix_webhook_deliveries_outstanding_by_subject",
        table_name="webhook_deliveries",
        postgresql_where=sa.text(f"status IN ({OUTSTANDING})"),
    )
    op.drop_column("webhook_deliveries", "sequence")
    op.drop_column("webhook_deliveries", "subject_id")
    op.drop_column("events", "audience")
