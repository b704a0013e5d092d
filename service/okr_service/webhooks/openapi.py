"""Every event type documented as an OpenAPI 3.1 `webhook`: body schema and headers."""

import inspect
from typing import Annotated, Any

from fastapi import APIRouter, Header
from pydantic import BaseModel

from okr_service.events.catalog import CATALOG, Audience
from okr_service.webhooks.payloads import payload_models

AUDIENCE_DESCRIPTIONS = {
    Audience.SUBSCRIBERS: "POSTed to every enabled endpoint subscribed to all types or to this "
    "one (and to the subject's team, where the endpoint names teams).",
    Audience.NAMED: "Admin-only: POSTed only to enabled endpoints that list this type by name "
    "(an endpoint subscribed to all types does not receive it).",
    Audience.OWN_ENDPOINT: "POSTed only to the endpoint it tests.",
}
DELIVERY_DESCRIPTION = (
    "The body is JSON, signed per "
    "Standard Webhooks: verify `webhook-signature` with the endpoint's secret over "
    "`{webhook-id}.{webhook-timestamp}.{body}`. `webhook-id` is stable across retries: "
    "use it to drop duplicates. Order: an endpoint never receives event n+1 of an object before "
    "event n of that object was delivered to it (2xx) or died; events of different objects "
    "are not ordered, nor are redeliveries. `data.sequence` numbers each object's events "
    "1, 2, 3...: a gap means an event died or was not subscribed to. Answer 2xx "
    "quickly; 410 Gone disables the endpoint; 429 and 503 may carry Retry-After; anything "
    "else (redirects included) is retried with backoff for about three days."
)
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Any 2xx acknowledges the event."},
    410: {"description": "Gone: the endpoint is disabled."},
}

WebhookId = Annotated[str, Header(alias="webhook-id", description="The event's ID.")]
WebhookTimestamp = Annotated[
    int, Header(alias="webhook-timestamp", description="Unix seconds when this attempt was sent.")
]
WebhookSignature = Annotated[
    str,
    Header(
        alias="webhook-signature",
        description="`v1,<base64 HMAC-SHA256>`, space-separated during a secret rotation.",
    ),
]


def _receiver(body_model: type[BaseModel]) -> Any:
    """A do-nothing handler whose signature tells FastAPI the body and headers."""

    async def receive(**_: Any) -> None:
        return None

    parameters = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
        for name, annotation in (
            ("body", body_model),
            ("webhook_id", WebhookId),
            ("webhook_timestamp", WebhookTimestamp),
            ("webhook_signature", WebhookSignature),
        )
    ]
    receive.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return receive


def document_webhooks(webhooks: APIRouter) -> None:
    models = payload_models()
    for event_type, spec in CATALOG.items():
        webhooks.add_api_route(
            event_type.value,
            _receiver(models[event_type]),
            methods=["POST"],
            summary=spec.description,
            description=f"{AUDIENCE_DESCRIPTIONS[spec.audience]} {DELIVERY_DESCRIPTION}",
            operation_id=f"webhook_{event_type.replace('.', '_')}",
            tags=["webhooks"],
            responses=RESPONSES,
            status_code=200,
        )
