from collections.abc import Iterable
from datetime import datetime
from typing import Any, Self
from uuid import UUID

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from okr_service.events import service as events
from okr_service.events.models import Event as EventModel
from okr_service.graphql.context import Info
from okr_service.graphql.mutations import Payload, changed
from okr_service.graphql.nodes import CREATED, UPDATED, AdminNode, ModelNode
from okr_service.graphql.teams.types import Team
from okr_service.kit.ids import global_id
from okr_service.webhooks import service
from okr_service.webhooks.models import DeliveryStatus
from okr_service.webhooks.models import WebhookDelivery as WebhookDeliveryModel
from okr_service.webhooks.models import WebhookEndpoint as WebhookEndpointModel
from okr_service.webhooks.payloads import event_data

ENDPOINT_DESCRIPTION = "What the endpoint is for, for the admins (free text)."
URL = "https:// (http:// only where the setting allows)."
EVENT_TYPES = "Event types to receive; empty: all."
TEAM_IDS = "Only events of these teams' objects; empty: all."
ENDPOINT = "The global ID of the webhook endpoint."


@strawberry.type(
    description="One entry of the event log, as webhooks deliver it; its `id` is the "
    "`webhook-id` header of its deliveries."
)
class Event(ModelNode):
    model = EventModel
    subject_type: strawberry.Private[str]
    # Admin-only types (the catalog's): credentials and endpoints, whose URLs may be secrets.
    audience: strawberry.Private[str]

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        found = await super().resolve_nodes(info=info, node_ids=node_ids, required=required)
        actor = info.context.principal
        return [
            event if event is not None and events.visible_to(actor, event.audience) else None
            for event in found
        ]

    id: relay.NodeID[UUID]
    type: str = strawberry.field(
        description='What happened, a name from the event catalog ("key_result.checked_in").'
    )
    timestamp: datetime = strawberry.field(description="When the change was committed.")
    sequence: int = strawberry.field(description="Grows by one with each event of the subject.")
    subject_id: strawberry.ID = strawberry.field(description="Global ID of the changed object.")
    data: JSON = strawberry.field(description="The webhook body's `data`: object, changes...")
    actor: JSON = strawberry.field(description="Who made the change: {type, id, name}.")
    changes: JSON = strawberry.field(description="What changed: {field: {from, to}}.")

    @classmethod
    def from_row(cls, row: Any) -> Self:
        return cls(
            id=row.id,
            type=row.type,
            timestamp=row.occurred_at,
            sequence=row.sequence,
            subject_id=strawberry.ID(global_id(row.subject_type, row.subject_id)),
            subject_type=row.subject_type,
            audience=row.audience,
            data=JSON(event_data(row)),
            actor=JSON(row.actor),
            changes=JSON(row.data.get("changes") or {}),
        )


@strawberry.type(description="A URL that receives signed webhooks. Its secret is never shown.")
class WebhookEndpoint(AdminNode):
    model = WebhookEndpointModel

    id: relay.NodeID[UUID]
    url: str = strawberry.field(description="Where signed deliveries are POSTed.")
    description: str | None = strawberry.field(description=ENDPOINT_DESCRIPTION)
    event_types: list[str] = strawberry.field(description="Empty: every event type.")
    enabled: bool = strawberry.field(
        description="Whether deliveries are made; false after failing too long, or by hand."
    )
    disabled_reason: str | None = strawberry.field(
        description="Why it was disabled; null while enabled."
    )
    failing_since: datetime | None = strawberry.field(
        description="Start of the current run of failed attempts."
    )
    previous_secret_expires_at: datetime | None = strawberry.field(
        description="Until then, deliveries are also signed with the secret before rotation."
    )
    created_at: datetime = strawberry.field(description=CREATED)
    updated_at: datetime = strawberry.field(description=UPDATED)
    team_ids: strawberry.Private[list[UUID]]

    @classmethod
    def from_row(cls, row: Any) -> Self:
        return cls(
            id=row.id,
            url=row.url,
            description=row.description,
            event_types=list(row.event_types),
            enabled=row.enabled,
            disabled_reason=row.disabled_reason,
            failing_since=row.failing_since,
            previous_secret_expires_at=row.previous_secret_expires_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            team_ids=list(row.team_ids),
        )

    @strawberry.field(description="Only events of these teams' objects; empty: every team.")
    async def teams(self, info: Info) -> list[Team]:
        return await Team.load_many(info, self.team_ids)


@strawberry.type(description="One HTTP request made for a delivery.")
class WebhookAttempt:
    attempted_at: datetime = strawberry.field(description="When the request was sent.")
    status_code: int | None = strawberry.field(description="None when no response came.")
    duration_ms: int = strawberry.field(description="How long the endpoint took to answer.")
    error: str | None = strawberry.field(
        description="Why the attempt failed (timeout, refused, status); null on success."
    )
    response_body: str | None = strawberry.field(description="The first KiB of the response.")

    @classmethod
    def from_row(cls, row: Any) -> Self:
        return cls(
            attempted_at=row.attempted_at,
            status_code=row.status_code,
            duration_ms=row.duration_ms,
            error=row.error,
            response_body=row.response_body,
        )


@strawberry.type(description="One event owed to one endpoint, and every attempt at it.")
class WebhookDelivery(AdminNode):
    model = WebhookDeliveryModel

    id: relay.NodeID[UUID]
    status: DeliveryStatus = strawberry.field(description="Where the delivery stands.")
    attempt_count: int = strawberry.field(description="How many requests were made so far.")
    next_attempt_at: datetime | None = strawberry.field(
        description="When the next attempt is due; none once delivered or dead."
    )
    delivered_at: datetime | None = strawberry.field(
        description="When the endpoint accepted it; null until then."
    )
    last_error: str | None = strawberry.field(description="Why the latest attempt failed.")
    last_status_code: int | None = strawberry.field(
        description="The HTTP status of the latest attempt; null when no response came."
    )
    created_at: datetime = strawberry.field(description="When the event was queued for it.")
    event_id: strawberry.Private[UUID]
    endpoint_id: strawberry.Private[UUID]

    @classmethod
    def from_row(cls, row: Any) -> Self:
        finished = row.status in (DeliveryStatus.DELIVERED, DeliveryStatus.DEAD)
        return cls(
            id=row.id,
            status=row.status,
            attempt_count=row.attempts,
            next_attempt_at=None if finished else row.next_attempt_at,
            delivered_at=row.delivered_at,
            last_error=row.last_error,
            last_status_code=row.last_status_code,
            created_at=row.created_at,
            event_id=row.event_id,
            endpoint_id=row.endpoint_id,
        )

    @strawberry.field(description="The event delivered.")
    async def event(self, info: Info) -> Event:
        found = await Event.load(info, self.event_id)
        assert found is not None  # the foreign key guarantees it
        return found

    @strawberry.field(description="The endpoint it is delivered to.")
    async def endpoint(self, info: Info) -> WebhookEndpoint:
        found = await WebhookEndpoint.load(info, self.endpoint_id)
        assert found is not None  # the foreign key guarantees it
        return found

    @strawberry.field(description="Oldest first.")
    async def attempts(self, info: Info) -> list[WebhookAttempt]:
        rows = await info.context.loader(service.attempts_of, default=list).load(self.id)
        return [WebhookAttempt.from_row(row) for row in rows]


@strawberry.input(description="A URL to subscribe to events.")
class CreateWebhookEndpointInput:
    url: str = strawberry.field(description=URL)
    description: str | None = strawberry.field(default=None, description=ENDPOINT_DESCRIPTION)
    event_types: list[str] = strawberry.field(default_factory=list, description=EVENT_TYPES)
    team_ids: list[strawberry.ID] = strawberry.field(default_factory=list, description=TEAM_IDS)


@strawberry.input(description="Changes to an endpoint: only the fields given change.")
class UpdateWebhookEndpointInput:
    id: strawberry.ID = strawberry.field(description=ENDPOINT)
    url: str | None = strawberry.field(default=strawberry.UNSET, description=URL)
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description=ENDPOINT_DESCRIPTION
    )
    event_types: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description=EVENT_TYPES
    )
    team_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description=TEAM_IDS
    )


@strawberry.input(description="The endpoint to delete, with its delivery history.")
class DeleteWebhookEndpointInput:
    id: strawberry.ID = strawberry.field(description=ENDPOINT)


@strawberry.input(description="The endpoint to enable again.")
class EnableWebhookEndpointInput:
    id: strawberry.ID = strawberry.field(description=ENDPOINT)


@strawberry.input(description="The endpoint whose signing secret to replace.")
class RotateWebhookSecretInput:
    id: strawberry.ID = strawberry.field(description=ENDPOINT)
    grace_period_seconds: int = strawberry.field(
        default=86400, description="How long the old secret still signs too (at most 7 days)."
    )


@strawberry.input(description="The endpoint to send a test event to.")
class SendTestWebhookInput:
    endpoint_id: strawberry.ID = strawberry.field(description=ENDPOINT)


@strawberry.input(description="An event to deliver once more to an endpoint.")
class RedeliverWebhookEventInput:
    event_id: strawberry.ID = strawberry.field(description="The global ID of the event.")
    endpoint_id: strawberry.ID = strawberry.field(description=ENDPOINT)


@strawberry.type(description="The result of `createWebhookEndpoint`.")
class CreateWebhookEndpointPayload(Payload):
    webhook_endpoint: WebhookEndpoint | None = changed("The new endpoint")
    secret: str | None = strawberry.field(
        default=None, description="The signing secret (whsec_...): shown this once only."
    )


@strawberry.type(description="The result of `updateWebhookEndpoint`.")
class UpdateWebhookEndpointPayload(Payload):
    webhook_endpoint: WebhookEndpoint | None = changed("The endpoint as it now stands")


@strawberry.type(description="The result of `deleteWebhookEndpoint`.")
class DeleteWebhookEndpointPayload(Payload):
    webhook_endpoint: WebhookEndpoint | None = strawberry.field(
        default=None, description="Its last state."
    )


@strawberry.type(description="The result of `enableWebhookEndpoint`.")
class EnableWebhookEndpointPayload(Payload):
    webhook_endpoint: WebhookEndpoint | None = changed("The endpoint, enabled")


@strawberry.type(description="The result of `rotateWebhookSecret`.")
class RotateWebhookSecretPayload(Payload):
    webhook_endpoint: WebhookEndpoint | None = changed("The endpoint, with its new secret")
    secret: str | None = strawberry.field(
        default=None, description="The new signing secret: shown this once only."
    )


@strawberry.type(description="The result of `sendTestWebhook`.")
class SendTestWebhookPayload(Payload):
    event: Event | None = changed("The test event queued for delivery")


@strawberry.type(description="The result of `redeliverWebhookEvent`.")
class RedeliverWebhookEventPayload(Payload):
    delivery: WebhookDelivery | None = changed("The new delivery of the event")
