"""The outermost request layer (pure ASGI): request id, one log line, metrics and the
request's span, for every HTTP request, refused ones included.

Inner layers add what only they know to the request's `RequestRecord` (kept in the ASGI
scope): the organization once the key is verified, the GraphQL operation, its cost and
error codes. This layer reads it when the answer has gone out.
"""

import logging
import os
import re
import time
from dataclasses import dataclass, field

import orjson
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from okr_service.kit import metrics
from okr_service.kit.tracing import extracted

logger = logging.getLogger("okr_service.request")

RECORD = "okr.request"
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})  # probes: DEBUG lines only
ERROR_BODY_SNIFF_BYTES = 4096
LOGGED_NAME_LIMIT = 100


@dataclass(slots=True)
class RequestRecord:
    request_id: str
    status: int = 500  # until an answer starts
    organization: str | None = None
    operation_type: str | None = None
    operation_name: str | None = None
    query_cost: int | None = None
    error_codes: list[str] = field(default_factory=list)
    error_id: str | None = None


def record_of(scope: Scope) -> RequestRecord | None:
    found = scope.get(RECORD)
    return found if isinstance(found, RequestRecord) else None


def request_id_of(scope: Scope) -> str:
    """The caller's `X-Request-ID` when it is a sane token, else a fresh one."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if REQUEST_ID.fullmatch(candidate):
                return candidate
    return os.urandom(12).hex()


def error_code_of(body: bytes) -> str | None:
    """The code of a JSON error body, if any: `error.code` (the REST routes' shape) or the
    first `errors[].extensions.code` (GraphQL's)."""
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(decoded, dict):
        return None
    error = decoded.get("error")
    errors = decoded.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        error = errors[0].get("extensions")
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


class Observe:
    def __init__(
        self, app: ASGIApp, *, operation_names: metrics.OperationNames, tracer: Tracer | None
    ) -> None:
        self.app = app
        self.operation_names = operation_names
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        record = RequestRecord(request_id_of(scope))
        scope[RECORD] = record
        error_body = b""

        async def observed_send(message: Message) -> None:
            nonlocal error_body
            if message["type"] == "http.response.start":
                record.status = message["status"]
                headers = [
                    *message.get("headers", ()),
                    (b"x-request-id", record.request_id.encode()),
                ]
                message = {**message, "headers": headers}
            elif record.status >= 400 and len(error_body) < ERROR_BODY_SNIFF_BYTES:
                error_body += message.get("body", b"")[:ERROR_BODY_SNIFF_BYTES]
            await send(message)

        try:
            if self.tracer is None:
                await self.app(scope, receive, observed_send)
            else:
                await self._traced(self.tracer, scope, receive, observed_send, record)
        finally:
            if record.status >= 400 and not record.error_codes:
                record.error_codes.append(error_code_of(error_body) or f"HTTP_{record.status}")
            self._account(scope, record, time.perf_counter() - started)

    async def _traced(
        self, tracer: Tracer, scope: Scope, receive: Receive, send: Send, record: RequestRecord
    ) -> None:
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        route = metrics.route_label(scope["path"])
        with tracer.start_as_current_span(
            f"{scope['method']} {route}",
            context=extracted(headers),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": scope["method"], "http.route": route},
        ) as span:
            await self.app(scope, receive, send)
            span.set_attribute("http.response.status_code", record.status)
            if record.status >= 500:
                span.set_status(Status(StatusCode.ERROR))

    def _account(self, scope: Scope, record: RequestRecord, seconds: float) -> None:
        status = record.status
        route = metrics.route_label(scope["path"])
        method = metrics.method_label(scope["method"])
        metrics.http_requests(route, method, status).inc()
        if record.operation_type is not None:
            name = self.operation_names.label(record.operation_name)
            metrics.graphql_operation_duration(record.operation_type, name).observe(seconds)
        if record.query_cost is not None:
            metrics.QUERY_COST.observe(record.query_cost)
        for code in record.error_codes:
            label = metrics.code_label(code)
            metrics.ERRORS.labels(label).inc()
            if status == 429:
                metrics.RATE_LIMITED.labels(label).inc()
        level = logging.DEBUG if route in QUIET_ROUTES else logging.INFO
        if logger.isEnabledFor(level):
            logger.log(level, "request", extra=self._fields(scope, record, seconds))

    @staticmethod
    def _fields(scope: Scope, record: RequestRecord, seconds: float) -> dict[str, object]:
        client = scope.get("client")
        return {
            "request_id": record.request_id,
            "method": scope["method"],
            "path": scope["path"][:LOGGED_NAME_LIMIT],
            "status": record.status,
            "duration_ms": round(seconds * 1000, 2),
            "client": client[0] if client else None,
            "organization": record.organization,
            "operation_type": record.operation_type,
            "operation_name": (record.operation_name or "")[:LOGGED_NAME_LIMIT] or None,
            "query_cost": record.query_cost,
            "error_codes": record.error_codes or None,
            "error_id": record.error_id,
        }
