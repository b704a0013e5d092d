"""Webhook subscriptions: the rules, secrets and the events they cause."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.events import service as events
from okr_service.events.catalog import EventType, check_event_types
from okr_service.events.models import Event
from okr_service.kit.errors import DomainError, ErrorCode
from okr_service.kit.ids import global_id
from okr_service.kit.principal import Principal, Scope
from okr_service.kit.repository import get_owned, rows_by_ids
from okr_service.kit.validation import Problems
from okr_service.teams.models import Team
from okr_service.webhooks import repository
from okr_service.webhooks.models import WebhookDelivery, WebhookEndpoint
from okr_service.webhooks.signing import new_secret
from okr_service.webhooks.ssrf import AddressPolicy, BlockedAddress, check_url

TYPE_NAME = "WebhookEndpoint"
URL_MAX_LENGTH = 2000
MAX_GRACE = timedelta(days=7)
# Who events recorded by the delivery worker are attributed to.
SYSTEM_ACTOR_ID = UUID(int=0)
SYSTEM_ACTOR_NAME = "webhook delivery worker"


def public_state(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """The endpoint as events show it: everything but its secrets."""
    return {
        "id": global_id(TYPE_NAME, endpoint.id),
        "typename": TYPE_NAME,
        "url": endpoint.url,
        "description": endpoint.description,
        "eventTypes": list(endpoint.event_types),
        "teamIds": [global_id("Team", team_id) for team_id in endpoint.team_ids],
        "enabled": endpoint.enabled,
        "disabledReason": endpoint.disabled_reason,
    }


async def check_fields(
    db: AsyncSession, organization_id: UUID, fields: dict[str, Any], *, policy: AddressPolicy
) -> None:
    """Validate (and normalise) the subscription fields present in `fields`; a URL must be
    one `policy` lets webhooks reach."""
    problems = Problems()
    if "url" in fields:
        fields["url"] = await _checked_url(problems, fields["url"], policy)
    if "description" in fields:
        fields["description"] = problems.text("description", fields["description"])
    if "event_types" in fields:
        checked = check_event_types(problems, fields["event_types"], "eventTypes")
        fields["event_types"] = [event_type.value for event_type in checked]
    problems.raise_if_any()
    if "team_ids" in fields:
        fields["team_ids"] = list(dict.fromkeys(fields["team_ids"]))
        found = await rows_by_ids(db, Team, organization_id, fields["team_ids"])
        for index, team_id in enumerate(fields["team_ids"]):
            if team_id not in found:
                problems.add(["teamIds", str(index)], "No Team with this ID.", ErrorCode.NOT_FOUND)
    problems.raise_if_any()


async def _checked_url(problems: Problems, url: str, policy: AddressPolicy) -> str:
    url = url.strip()
    if len(url) > URL_MAX_LENGTH:
        problems.add("url", f"At most {URL_MAX_LENGTH} characters.", ErrorCode.TOO_LONG)
        return url
    try:
        await check_url(url, policy)
    except BlockedAddress as error:
        problems.add("url", str(error), ErrorCode.INVALID_VALUE)
    return url


async def create_endpoint(
    db: AsyncSession, actor: Principal, fields: dict[str, Any], *, policy: AddressPolicy
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret, which cannot be read again."""
    actor.require(Scope.ADMIN)
    await check_fields(db, actor.organization_id, fields, policy=policy)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        organization_id=actor.organization_id, secret=secret, enabled=True, **fields
    )
    db.add(endpoint)
    await db.flush()
    await _record(db, actor, EventType.WEBHOOK_ENDPOINT_CREATED, endpoint)
    return endpoint, secret


async def _owned(
    db: AsyncSession, actor: Principal, endpoint_id: UUID, field: str = "id"
) -> WebhookEndpoint:
    actor.require(Scope.ADMIN)
    return await get_owned(
        db, WebhookEndpoint, actor.organization_id, endpoint_id, field=field, for_update=True
    )


async def update_endpoint(
    db: AsyncSession,
    actor: Principal,
    endpoint_id: UUID,
    changes: dict[str, Any],
    *,
    policy: AddressPolicy,
) -> WebhookEndpoint:
    endpoint = await _owned(db, actor, endpoint_id)
    await check_fields(db, actor.organization_id, changes, policy=policy)
    await _update(db, actor, endpoint, changes)
    return endpoint


async def delete_endpoint(db: AsyncSession, actor: Principal, endpoint_id: UUID) -> WebhookEndpoint:
    """Delete the endpoint with its delivery history; returns its last state."""
    endpoint = await _owned(db, actor, endpoint_id)
    state = public_state(endpoint)
    await db.delete(endpoint)
    await db.flush()
    await _record(db, actor, EventType.WEBHOOK_ENDPOINT_DELETED, endpoint, state=state)
    return endpoint


async def enable_endpoint(db: AsyncSession, actor: Principal, endpoint_id: UUID) -> WebhookEndpoint:
    endpoint = await _owned(db, actor, endpoint_id)
    endpoint.failing_since = None
    await _update(db, actor, endpoint, {"enabled": True, "disabled_reason": None})
    return endpoint


async def rotate_secret(
    db: AsyncSession, actor: Principal, endpoint_id: UUID, grace: timedelta
) -> tuple[WebhookEndpoint, str]:
    """A new secret; until `grace` has passed, deliveries are signed with the old one too."""
    if not timedelta(0) <= grace <= MAX_GRACE:
        raise DomainError.single(
            "gracePeriodSeconds", "Must be between 0 and 7 days.", ErrorCode.OUT_OF_RANGE
        )
    endpoint = await _owned(db, actor, endpoint_id)
    secret = new_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = datetime.now(UTC) + grace
    endpoint.secret = secret
    await db.flush()
    await _record(db, actor, EventType.WEBHOOK_ENDPOINT_SECRET_ROTATED, endpoint)
    return endpoint, secret


async def send_test(db: AsyncSession, actor: Principal, endpoint_id: UUID) -> Event:
    """Record a `webhook.test` event, delivered to this endpoint only, like any other."""
    endpoint = await _owned(db, actor, endpoint_id, field="endpointId")
    if not endpoint.enabled:
        raise DomainError.single(
            "endpointId", "Enable the endpoint first.", ErrorCode.INVALID_STATE
        )
    await _record(db, actor, EventType.WEBHOOK_TEST, endpoint)
    return await _latest_event(db, endpoint)


async def _latest_event(db: AsyncSession, endpoint: WebhookEndpoint) -> Event:
    return (
        await db.execute(
            select(Event)
            .where(
                Event.organization_id == endpoint.organization_id,
                Event.subject_id == endpoint.id,
            )
            .order_by(Event.sequence.desc())
            .limit(1)
        )
    ).scalar_one()


async def redeliver(
    db: AsyncSession, actor: Principal, event_id: UUID, endpoint_id: UUID
) -> WebhookDelivery:
    """Queue `event` for the endpoint again: a new delivery with the same `webhook-id`."""
    endpoint = await _owned(db, actor, endpoint_id, field="endpointId")
    await get_owned(db, Event, actor.organization_id, event_id, field="eventId")
    if not endpoint.enabled:
        raise DomainError.single(
            "endpointId", "Enable the endpoint first.", ErrorCode.INVALID_STATE
        )
    return await repository.add_delivery(db, actor.organization_id, event_id, endpoint.id)


def system_actor(organization_id: UUID) -> Principal:
    return Principal(
        organization_id=organization_id,
        scopes=frozenset(),
        actor_id=SYSTEM_ACTOR_ID,
        actor_name=SYSTEM_ACTOR_NAME,
        actor_type="system",
    )


async def disable_endpoint(
    db: AsyncSession, organization_id: UUID, endpoint_id: UUID, reason: str
) -> None:
    """Stop delivering to an endpoint, give up what it is owed, and say so in an event."""
    endpoint = await get_owned(
        db, WebhookEndpoint, organization_id, endpoint_id, field="id", for_update=True
    )
    if not endpoint.enabled:
        return
    endpoint.enabled, endpoint.disabled_reason = False, reason
    await db.flush()
    await repository.kill_outstanding(
        db, organization_id, endpoint_id, f"Endpoint disabled: {reason}"
    )
    await _record(
        db,
        system_actor(organization_id),
        EventType.WEBHOOK_ENDPOINT_DISABLED,
        endpoint,
        changes={
            "enabled": {"from": True, "to": False},
            "disabledReason": {"from": None, "to": reason},
        },
    )


async def _update(
    db: AsyncSession, actor: Principal, endpoint: WebhookEndpoint, changes: dict[str, Any]
) -> None:
    """Apply `changes` and tell what they changed (`webhook_endpoint.updated`, if any)."""
    before = public_state(endpoint)
    for field, value in changes.items():
        setattr(endpoint, field, value)
    await db.flush()
    changed = events.diff(before, public_state(endpoint))
    if changed:
        await _record(db, actor, EventType.WEBHOOK_ENDPOINT_UPDATED, endpoint, changes=changed)


async def _record(
    db: AsyncSession,
    actor: Principal,
    event_type: EventType,
    endpoint: WebhookEndpoint,
    *,
    changes: dict[str, dict[str, Any]] | None = None,
    state: dict[str, Any] | None = None,
) -> None:
    """An event about an endpoint: its public state only, never its secrets."""
    await events.record(
        db,
        actor,
        event_type,
        endpoint,
        changes=changes,
        object_state=state or public_state(endpoint),
    )


# Reads the GraphQL layer asks for: pages, and batches behind its loaders.
list_deliveries = repository.list_deliveries
attempts_of = repository.attempts_of
