"""Every event type documented as an OpenAPI 3.1 `webhook`: body schema and headers."""

import inspect
from typing import Annotated, Any

from fastapi import APIRouter, Header
from pydantic import BaseModel

from service.webhooks.catalog import EVENT_KINDS
from service.webhooks.payloads import payload_models

DELIVERY_DESCRIPTION = (
    "POSTed as JSON to every enabled endpoint subscribed to this type (and team), signed per "
    "Standard Webhooks: verify `webhook-signature` with the endpoint's secret over "
    "`{webhook-id}.{webhook-timestamp}.{body}`. `webhook-id` is stable across retries: "
    "use it to drop duplicates, and `data.sequence` to drop stale events. Answer 2xx "
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
    for kind in EVENT_KINDS:
        webhooks.add_api_route(
            kind.event_type,
            _receiver(models[kind.event_type]),
            methods=["POST"],
            summary=kind.description,
            description=DELIVERY_DESCRIPTION,
            operation_id=f"webhook_{kind.event_type.replace('.', '_')}",
            tags=["webhooks"],
            responses=RESPONSES,
            status_code=200,
        )
