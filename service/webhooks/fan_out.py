"""Delivery rows written by the very statement that appends an event to the outbox.

Team matching: an endpoint with `team_ids` hears only about objects of those teams: an
objective's, key result's or initiative's `team_id`, a team itself, an alignment link's
source objective's team. Events of objects without a team (cycles, webhook endpoints) ignore
the team filter. `webhook.test` goes to its own endpoint only, whatever its filters.
"""

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Insert,
    Select,
    Uuid,
    and_,
    any_,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
)

from service.events.models import Event
from service.kit.models import Base
from service.objectives.models import Objective
from service.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

NOTIFY_CHANNEL = "okr_webhook_deliveries"
TEST_EVENT = "webhook.test"

# Rows made by INSERT ... SELECT need server-side keys; a UUIDv7 keeps them time-ordered
# like every other key (PostgreSQL < 18 has no uuidv7()).
UUID7_SQL = (
    "encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing "
    "substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) "
    "from 3) from 1 for 6), 52, 1), 53, 1), 'hex')::uuid"
)


def with_webhook_deliveries(event_insert: Insert, event_type: str, subject: Base) -> Select[Any]:
    """`event_insert` plus its deliveries and a NOTIFY, in one statement (one round trip).

    An organization without endpoints pays one index probe on `webhook_endpoints`.
    """
    event = event_insert.returning(Event.id, Event.organization_id, Event.subject_id).cte("event")
    endpoint = WebhookEndpoint
    matching = select(
        literal_column(UUID7_SQL, Uuid()),
        event.c.organization_id,
        event.c.id,
        endpoint.id,
        literal(DeliveryStatus.PENDING.name),
        literal(0),
        func.now(),
    ).join_from(
        event,
        endpoint,
        and_(
            endpoint.organization_id == event.c.organization_id,
            endpoint.enabled,
            _matches(event.c.subject_id, event_type, subject),
        ),
    )
    columns = [
        "id",
        "organization_id",
        "event_id",
        "endpoint_id",
        "status",
        "attempts",
        "next_attempt_at",
    ]
    deliveries = (
        insert(WebhookDelivery)
        .from_select(columns, matching)
        .returning(WebhookDelivery.id)
        .cte("deliveries")
    )
    # NOTIFY is sent at commit (so never for a rollback), once per transaction and payload.
    any_delivery = select(deliveries.c.id).limit(1).subquery()
    return select(func.pg_notify(NOTIFY_CHANNEL, "")).select_from(any_delivery)


def _matches(subject_id: ColumnElement[Any], event_type: str, subject: Base) -> ColumnElement[bool]:
    endpoint = WebhookEndpoint
    if event_type == TEST_EVENT:
        return endpoint.id == subject_id
    types_match = or_(
        func.cardinality(endpoint.event_types) == 0,
        literal(event_type) == any_(endpoint.event_types),
    )
    team = subject_team(subject)
    if team is None:
        return types_match
    team_match = or_(func.cardinality(endpoint.team_ids) == 0, team == any_(endpoint.team_ids))
    return and_(types_match, team_match)


def subject_team(subject: Base) -> ColumnElement[Any] | None:
    """The team an event's object belongs to, as SQL, or None for objects without one."""
    team_id = getattr(subject, "team_id", None)
    if team_id is not None:
        return literal(team_id, Uuid())
    if subject.__tablename__ == "teams":
        return literal(subject.id, Uuid())  # type: ignore[attr-defined]
    source = getattr(subject, "source_objective_id", None)
    if source is not None:  # an alignment link: the supporting objective's team
        return (
            select(Objective.team_id)
            .where(
                Objective.organization_id == subject.organization_id,  # type: ignore[attr-defined]
                Objective.id == source,
            )
            .scalar_subquery()
        )
    return None
