from datetime import timedelta
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.events import service as events
from okr_service.events.catalog import parse_event_types
from okr_service.graphql.context import Info
from okr_service.graphql.mutations import changes_of, input_argument, mutate
from okr_service.graphql.nodes import After, Connection, First, connection
from okr_service.graphql.webhooks.types import (
    CreateWebhookEndpointInput,
    CreateWebhookEndpointPayload,
    DeleteWebhookEndpointInput,
    DeleteWebhookEndpointPayload,
    EnableWebhookEndpointInput,
    EnableWebhookEndpointPayload,
    Event,
    RedeliverWebhookEventInput,
    RedeliverWebhookEventPayload,
    RotateWebhookSecretInput,
    RotateWebhookSecretPayload,
    SendTestWebhookInput,
    SendTestWebhookPayload,
    UpdateWebhookEndpointInput,
    UpdateWebhookEndpointPayload,
    WebhookDelivery,
    WebhookEndpoint,
)
from okr_service.kit.ids import decode_global_id, optional_id, parse_global_id
from okr_service.kit.principal import Principal, Scope
from okr_service.kit.repository import Page, Window
from okr_service.webhooks import service
from okr_service.webhooks.models import DeliveryStatus
from okr_service.webhooks.models import WebhookEndpoint as WebhookEndpointModel
from okr_service.webhooks.ssrf import AddressPolicy


def team_uuids(team_ids: list[strawberry.ID]) -> list[Any]:
    return [
        parse_global_id(team_id, "Team", field=f"teamIds.{index}")
        for index, team_id in enumerate(team_ids)
    ]


def endpoint_uuid(value: strawberry.ID, field: str = "id") -> Any:
    return parse_global_id(value, "WebhookEndpoint", field=field)


def address_policy(info: Info) -> AddressPolicy:
    """The addresses the app's settings let webhook endpoints point at."""
    return AddressPolicy.from_settings(info.context.settings)


@strawberry.type
class WebhookQuery:
    @strawberry.field(description="Webhook endpoints in creation order (admin scope).")
    async def webhook_endpoints(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[WebhookEndpoint]:
        info.context.principal.require(Scope.ADMIN)
        return await connection(info, WebhookEndpoint, first=first, after=after)

    @strawberry.field(description="Deliveries, newest last, with every attempt (admin scope).")
    async def webhook_deliveries(
        self,
        info: Info,
        endpoint_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only to this endpoint.")
        ] = None,
        status: Annotated[
            DeliveryStatus | None, strawberry.argument(description="Only in this status.")
        ] = None,
        event_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only of this event.")
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[WebhookDelivery]:
        info.context.principal.require(Scope.ADMIN)
        organization_id = info.context.principal.organization_id
        endpoint = None if endpoint_id is None else endpoint_uuid(endpoint_id, "endpointId")
        event = optional_id(event_id, "Event", field="eventId")

        async def fetch(db: AsyncSession, window: Window) -> Page:
            return await service.list_deliveries(
                db, organization_id, window, endpoint_id=endpoint, event_id=event, status=status
            )

        return await connection(info, WebhookDelivery, first=first, after=after, fetch=fetch)

    @strawberry.field(
        description="The event log, oldest first: poll with `after` to catch up on anything "
        "a webhook endpoint missed; with `subjectId`, one object's audit trail (who changed "
        "what, from what, to what, when). `types` are names from the event catalog "
        "(`key_result.checked_in`...): an unknown name is an INVALID_VALUE error."
    )
    async def events(
        self,
        info: Info,
        types: Annotated[
            list[str] | None,
            strawberry.argument(description="Only events of these types; all when omitted."),
        ] = None,
        subject_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only events about this object (its global ID)."),
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[Event]:
        actor = info.context.principal
        subject = None if subject_id is None else decode_global_id(subject_id, field="subjectId")[1]
        wanted = parse_event_types(types or (), "types")  # an unknown name is an error

        async def fetch(db: AsyncSession, window: Window) -> Page:
            return await events.list_events(db, actor, window, types=wanted, subject_id=subject)

        return await connection(info, Event, first=first, after=after, fetch=fetch)


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(description="Subscribe a URL to events; its secret is shown once.")
    async def create_webhook_endpoint(
        self,
        info: Info,
        input: Annotated[CreateWebhookEndpointInput, input_argument("The URL and its filters.")],
    ) -> CreateWebhookEndpointPayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            fields = changes_of(input, WebhookEndpointModel)
            fields["team_ids"] = team_uuids(input.team_ids)
            endpoint, secret = await service.create_endpoint(
                db, actor, fields, policy=address_policy(info)
            )
            return {"webhook_endpoint": WebhookEndpoint.from_row(endpoint), "secret": secret}

        return await mutate(info, CreateWebhookEndpointPayload, action)

    @strawberry.mutation(description="Change an endpoint's URL, description or filters.")
    async def update_webhook_endpoint(
        self,
        info: Info,
        input: Annotated[UpdateWebhookEndpointInput, input_argument("The endpoint and changes.")],
    ) -> UpdateWebhookEndpointPayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            changes = changes_of(input, WebhookEndpointModel)
            if "team_ids" in changes:
                changes["team_ids"] = team_uuids(changes["team_ids"])
            endpoint = await service.update_endpoint(
                db, actor, endpoint_uuid(input.id), changes, policy=address_policy(info)
            )
            return {"webhook_endpoint": WebhookEndpoint.from_row(endpoint)}

        return await mutate(info, UpdateWebhookEndpointPayload, action)

    @strawberry.mutation(description="Delete an endpoint and its delivery history.")
    async def delete_webhook_endpoint(
        self,
        info: Info,
        input: Annotated[DeleteWebhookEndpointInput, input_argument("The endpoint to delete.")],
    ) -> DeleteWebhookEndpointPayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            endpoint = await service.delete_endpoint(db, actor, endpoint_uuid(input.id))
            return {"webhook_endpoint": WebhookEndpoint.from_row(endpoint)}

        return await mutate(info, DeleteWebhookEndpointPayload, action)

    @strawberry.mutation(description="Deliver to a disabled endpoint again (new events only).")
    async def enable_webhook_endpoint(
        self,
        info: Info,
        input: Annotated[EnableWebhookEndpointInput, input_argument("The endpoint to enable.")],
    ) -> EnableWebhookEndpointPayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            endpoint = await service.enable_endpoint(db, actor, endpoint_uuid(input.id))
            return {"webhook_endpoint": WebhookEndpoint.from_row(endpoint)}

        return await mutate(info, EnableWebhookEndpointPayload, action)

    @strawberry.mutation(
        description="A new signing secret; the old one keeps signing too for the grace period."
    )
    async def rotate_webhook_secret(
        self,
        info: Info,
        input: Annotated[RotateWebhookSecretInput, input_argument("The endpoint and grace.")],
    ) -> RotateWebhookSecretPayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            grace = timedelta(seconds=input.grace_period_seconds)
            endpoint, secret = await service.rotate_secret(
                db, actor, endpoint_uuid(input.id), grace
            )
            return {"webhook_endpoint": WebhookEndpoint.from_row(endpoint), "secret": secret}

        return await mutate(info, RotateWebhookSecretPayload, action)

    @strawberry.mutation(description="Record a `webhook.test` event for this endpoint only.")
    async def send_test_webhook(
        self,
        info: Info,
        input: Annotated[SendTestWebhookInput, input_argument("The endpoint to test.")],
    ) -> SendTestWebhookPayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            endpoint_id = endpoint_uuid(input.endpoint_id, "endpointId")
            event = await service.send_test(db, actor, endpoint_id)
            return {"event": Event.from_row(event)}

        return await mutate(info, SendTestWebhookPayload, action)

    @strawberry.mutation(description="Queue an event again for an endpoint (same webhook-id).")
    async def redeliver_webhook_event(
        self,
        info: Info,
        input: Annotated[RedeliverWebhookEventInput, input_argument("The event and endpoint.")],
    ) -> RedeliverWebhookEventPayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            delivery = await service.redeliver(
                db,
                actor,
                event_id=parse_global_id(input.event_id, "Event", field="eventId"),
                endpoint_id=endpoint_uuid(input.endpoint_id, "endpointId"),
            )
            return {"delivery": WebhookDelivery.from_row(delivery)}

        return await mutate(info, RedeliverWebhookEventPayload, action)
