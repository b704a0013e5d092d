"""webhook fan-out by the database

Each event row, once inserted, writes its webhook deliveries (one per matching endpoint)
and wakes the delivery workers, in the inserting statement: the outbox stays one round
trip, and the events domain needs to know nothing of webhooks.

Matching: the endpoint is enabled; it lists no event types or this one; it lists no teams,
or the event's subject belongs to one of them (events of subjects without a team ignore
team filters). `webhook.test` goes to its own endpoint only.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 23:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rows made by INSERT ... SELECT need server-side keys; a UUIDv7 keeps them time-ordered
# like every other key (PostgreSQL < 18 has no uuidv7()).
UUID7 = (
    "encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing "
    "substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) "
    "from 3) from 1 for 6), 52, 1), 53, 1), 'hex')::uuid"
)

FAN_OUT = f"""
CREATE FUNCTION okr_event_fan_out() RETURNS trigger LANGUAGE plpgsql
-- The schema the tables were migrated into, whatever search_path the writer has.
SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO webhook_deliveries
        (id, organization_id, event_id, endpoint_id, status, attempts, next_attempt_at)
    SELECT {UUID7}, NEW.organization_id, NEW.id, endpoint.id, 'PENDING', 0, now()
    FROM webhook_endpoints AS endpoint
    WHERE endpoint.organization_id = NEW.organization_id
      AND endpoint.enabled
      AND CASE
          WHEN NEW.type = 'webhook.test' THEN endpoint.id = NEW.subject_id
          ELSE (cardinality(endpoint.event_types) = 0 OR NEW.type = ANY(endpoint.event_types))
           AND (NEW.team_id IS NULL
                OR cardinality(endpoint.team_ids) = 0
                OR NEW.team_id = ANY(endpoint.team_ids))
      END;
    IF FOUND THEN
        -- Sent at commit (never for a rollback), once per transaction and payload.
        PERFORM pg_notify('okr_webhook_deliveries', '');
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    # The team the event's subject belongs to when it happened (webhook team filters).
    op.add_column("events", sa.Column("team_id", sa.Uuid(), nullable=True))
    op.execute(FAN_OUT)
    op.execute(
        "CREATE TRIGGER fan_out_to_webhooks AFTER INSERT ON events "
        "FOR EACH ROW EXECUTE FUNCTION okr_event_fan_out()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER fan_out_to_webhooks ON events")
    op.execute("DROP FUNCTION okr_event_fan_out()")
    op.drop_column("events", "team_id")
