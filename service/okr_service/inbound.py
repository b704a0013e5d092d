"""`POST /integrations/{provider}/{integrationId}`: Linear, Jira and GitHub webhooks.

The HTTP side only: a per-integration rate limit and a bounded body read, both before any
database work (a flood or a slow upload never holds a connection), then one transaction
in which `okr_service.integrations` verifies, records and applies the delivery.
"""

import asyncio
import math

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from okr_service.integrations import service as integrations
from okr_service.integrations.inbound import Answer, InboundRequest
from okr_service.kit.db import transaction
from okr_service.kit.problems import JSON, rest_error_body
from okr_service.kit.ratelimit import LeakyBucket
from okr_service.kit.settings import Settings

router = APIRouter(tags=["integrations"])
KEY_MAX_LENGTH = 100  # of a rate-limit bucket's key (the path may be anything)


def install(app: FastAPI, settings: Settings) -> None:
    rate = settings.integration_rate_limit_per_second
    app.state.integration_limiter = (
        LeakyBucket(rate, settings.integration_rate_limit_burst) if rate > 0 else None
    )
    app.include_router(router)


@router.post(
    "/integrations/{provider}/{integration_id}",
    summary="Receive a Linear, Jira or GitHub webhook for one integration.",
    description="Verified with the provider's own signature scheme before the body is "
    "parsed; idempotent by the provider's delivery id. 200: applied, a replay, an older "
    "delivery than one applied, or nothing to change; 202: recorded and ignored (an object "
    "no initiative refers to, an event or state not followed).",
    responses={
        202: {"description": "Recorded and ignored."},
        400: {"description": "Malformed body or missing delivery id (recorded)."},
        401: {"description": "Missing or wrong signature, stale timestamp (recorded)."},
        404: {"description": "No such integration for this provider."},
        408: {"description": "The body did not arrive in time."},
        413: {"description": "The body is too large (recorded)."},
        429: {"description": "Too many deliveries for this integration; see Retry-After."},
    },
)
async def receive_delivery(provider: str, integration_id: str, request: Request) -> Response:
    settings: Settings = request.app.state.settings
    limiter: LeakyBucket | None = request.app.state.integration_limiter
    if limiter is not None:
        wait = limiter.take(f"{provider}/{integration_id}"[:KEY_MAX_LENGTH])
        if wait > 0:
            retry_after = str(max(1, math.ceil(wait)))
            return error(429, "RATE_LIMITED", "Too many deliveries.", {"Retry-After": retry_after})
    try:
        async with asyncio.timeout(settings.body_read_timeout_seconds):
            body = await read_capped(request, settings.integration_max_body_bytes)
    except TimeoutError:
        return error(408, "REQUEST_TIMEOUT", "The body did not arrive in time.")
    inbound = InboundRequest(
        provider=provider,
        integration_id=integration_id,
        headers={name.lower(): value for name, value in request.headers.items()},
        body=body,
        now=request.app.state.clock.now(),
        max_body_bytes=settings.integration_max_body_bytes,
        max_json_depth=settings.max_json_depth,
    )
    async with transaction(request.app.state.sessionmaker) as db:
        answer = await integrations.receive(db, inbound)
    return respond(answer)


async def read_capped(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it passes `limit` bytes (the rest is never read)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def respond(answer: Answer) -> Response:
    if answer.status >= 400:
        return error(answer.status, answer.reason or "REJECTED", answer.message)
    return JSONResponse(
        status_code=answer.status,
        content={"outcome": answer.outcome, "reason": answer.reason, "message": answer.message},
    )


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(rest_error_body(code, message), status, headers, media_type=JSON)
