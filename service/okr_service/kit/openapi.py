"""The OpenAPI document completed with what FastAPI cannot infer: who may call each route,
how webhook receivers authenticate a delivery, where the service runs, and its licence."""

from collections.abc import Callable
from typing import Any

Document = dict[str, Any]

SECURITY_SCHEMES = {
    "webhookSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "webhook-signature",
        "description": "Standard Webhooks signature of each delivery, made with the endpoint's "
        "secret over `{webhook-id}.{webhook-timestamp}.{body}`: receivers verify it and "
        "drop what does not match.",
    },
}
# Methods FastAPI routes answer 405 (Method Not Allowed) to when the path serves another.
METHOD_NOT_ALLOWED = {"description": "Method Not Allowed: the route answers only its method."}


def documented(generate: Callable[[], Document]) -> Callable[[], Document]:
    """`app.openapi`, completed (idempotent: FastAPI hands back its cached document)."""

    def openapi() -> Document:
        return complete(generate())

    return openapi


def complete(document: Document) -> Document:
    # No open-source licence: an SPDX reference of its own (SPDX has no "proprietary").
    document["info"]["license"] = {"name": "Proprietary", "identifier": "LicenseRef-Proprietary"}
    document["servers"] = [
        {"url": "/", "description": "The service's own origin (GraphQL is at /graphql)."}
    ]
    document.setdefault("components", {}).setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    # The REST routes around GraphQL take no API key: probes, metrics, and inbound routes
    # that verify their caller's own signature (each says how in its description).
    document["security"] = []
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if not any(str(code).startswith("4") for code in responses):
                responses["405"] = METHOD_NOT_ALLOWED
    for operations in document.get("webhooks", {}).values():
        for operation in operations.values():
            operation["security"] = [{"webhookSignature": []}]
    return document
