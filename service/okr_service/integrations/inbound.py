"""Receiving a provider's webhook: verify, record, and move the initiatives it names.

Order matters. The integration id in the path fixes the organization (the transaction
enters that tenant at once); the raw body's signature is checked before anything parses
it; a refused request is recorded (with why) and changes nothing else. A verified delivery
claims its provider delivery id first, so a replay (or a concurrent twin) changes nothing.
An object's provider updated-at must not be older than the newest applied (the watermark),
so a late, older delivery never rolls a status back. Each initiative moves through the
initiatives service, exactly as `updateInitiative` moves it: same validation, version bump
and events, with the integration as actor.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.initiatives import service as initiatives
from okr_service.integrations import repository
from okr_service.integrations.mapping import status_for
from okr_service.integrations.models import DeliveryOutcome, Integration, Provider
from okr_service.integrations.providers import SCHEMES
from okr_service.integrations.providers.base import (
    Malformed,
    ObjectState,
    Reading,
    Refused,
    Scheme,
    Skip,
    verify,
)
from okr_service.kit.db import enter_tenant
from okr_service.kit.errors import DomainError
from okr_service.kit.json_input import InputTooDeep, check_depth
from okr_service.kit.principal import Principal, Scope
from okr_service.okr.enums import InitiativeStatus

ACTOR_TYPE = "integration"


class TooLarge(Refused):
    status = 413


@dataclass(frozen=True, slots=True)
class InboundRequest:
    provider: str
    integration_id: str
    headers: Mapping[str, str]  # names in lower case
    body: bytes | None  # None: larger than allowed (not read to the end)
    now: datetime
    max_body_bytes: int
    max_json_depth: int


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    outcome: str
    reason: str | None
    message: str


@dataclass(slots=True)
class Outcome:
    """What a verified delivery came to, as its log row records it."""

    outcome: DeliveryOutcome
    http_status: int
    reason: str | None
    detail: str
    values: dict[str, Any] = field(default_factory=dict)


async def receive(db: AsyncSession, request: InboundRequest) -> Answer:
    integration = await _integration(db, request)
    if integration is None:
        return Answer(404, "rejected", "NOT_FOUND", "No such integration.")
    # Everything from here runs inside the integration's organization only.
    await enter_tenant(db, integration.organization_id)
    scheme = SCHEMES[integration.provider]
    delivery_id = clip(request.headers.get(scheme.delivery_id_header), 200)
    try:
        reading = _read(scheme, integration, request, delivery_id)
    except Refused as refusal:
        await _record_refusal(db, integration, delivery_id, refusal)
        return Answer(refusal.status, "rejected", refusal.code, refusal.message)
    assert delivery_id is not None  # _read refuses a delivery without one
    claimed = await repository.claim_delivery(db, integration, delivery_id)
    if claimed is None:
        return Answer(200, "duplicate", "DUPLICATE", "Already received: nothing changed.")
    outcome = await _apply(db, integration, reading)
    await repository.settle_delivery(
        db,
        integration.organization_id,
        claimed,
        {
            "outcome": outcome.outcome,
            "http_status": outcome.http_status,
            "reason": outcome.reason,
            "detail": clip(outcome.detail, 500),
            **outcome.values,
        },
    )
    return Answer(outcome.http_status, outcome.outcome.value, outcome.reason, outcome.detail)


async def _integration(db: AsyncSession, request: InboundRequest) -> Integration | None:
    try:
        provider, integration_id = Provider(request.provider), UUID(request.integration_id)
    except ValueError:
        return None
    integration = await repository.find_integration(db, integration_id)
    if integration is None or integration.provider is not provider:
        return None
    return integration


def _read(
    scheme: Scheme, integration: Integration, request: InboundRequest, delivery_id: str | None
) -> Reading:
    """The verified body read by the provider's scheme; Refused at the first problem."""
    if request.body is None:
        raise TooLarge(
            "PAYLOAD_TOO_LARGE", f"The body is larger than {request.max_body_bytes} bytes."
        )
    verify(scheme, _secrets(integration, request.now), request.headers, request.body)
    if not delivery_id:
        raise Malformed("MISSING_DELIVERY_ID", f"No {scheme.delivery_id_header} header.")
    return scheme.read(_parsed(request.body, request.max_json_depth), request.headers, request.now)


def _secrets(integration: Integration, now: datetime) -> list[str]:
    grace_ends = integration.previous_secret_expires_at
    if integration.previous_secret and grace_ends is not None and grace_ends > now:
        return [integration.secret, integration.previous_secret]
    return [integration.secret]


def _parsed(body: bytes, max_depth: int) -> Any:
    try:
        payload = orjson.loads(body)
        check_depth(payload, max_depth)
    except orjson.JSONDecodeError:
        raise Malformed("MALFORMED_BODY", "The body is not JSON.") from None
    except InputTooDeep as error:
        raise Malformed("MALFORMED_BODY", error.message) from None
    if not isinstance(payload, dict):
        raise Malformed("MALFORMED_BODY", "The body is not a JSON object.")
    return payload


async def _record_refusal(
    db: AsyncSession, integration: Integration, delivery_id: str | None, refusal: Refused
) -> None:
    await repository.add_rejection(
        db,
        integration,
        {
            "provider_delivery_id": delivery_id,
            "reason": refusal.code,
            "detail": clip(refusal.message, 500),
            "http_status": refusal.status,
        },
    )


async def _apply(db: AsyncSession, integration: Integration, reading: Reading) -> Outcome:
    if isinstance(reading, Skip):
        # A ping is GitHub checking the URL works: answered as any success.
        http_status = 200 if reading.reason == "PING" else 202
        return Outcome(
            DeliveryOutcome.IGNORED,
            http_status,
            reading.reason,
            reading.detail,
            {"event_name": clip(reading.event_name, 100)},
        )
    values = _described(reading)
    rows = await repository.matching_initiatives(
        db, integration.organization_id, integration.provider, reading.match_keys
    )
    if not rows:
        return _ignored(202, "UNKNOWN_OBJECT", f"No initiative refers to {reading.label}.", values)
    current = await repository.advance_watermark(
        db,
        integration.organization_id,
        integration.provider,
        clip(reading.watermark_key, 200) or "",
        reading.updated_at,
    )
    if not current:
        return _ignored(200, "OUT_OF_ORDER", "A newer version was already applied.", values)
    mapped, status = status_for(
        integration.provider, integration.status_mapping, reading.state_keys
    )
    if not mapped:
        return _ignored(202, "UNMAPPED_STATE", f"No mapping for {reading.state_label}.", values)
    if status is None:
        return _ignored(200, "LEFT_ALONE", f"{reading.state_label} is mapped to null.", values)
    values["status"] = status.value
    return await _move(db, integration, [row.id for row in rows if row.status != status], values)


async def _move(
    db: AsyncSession, integration: Integration, initiative_ids: list[UUID], values: dict[str, Any]
) -> Outcome:
    """Move each initiative not yet at the status, as `updateInitiative` would."""
    actor = integration_actor(integration)
    moved: list[UUID] = []
    refused: list[str] = []
    for initiative_id in initiative_ids:
        try:
            await initiatives.update_initiative(
                db, actor, initiative_id, {"status": InitiativeStatus(values["status"])}
            )
        except DomainError as error:
            refused.append(str(error))
            continue
        moved.append(initiative_id)
    values["initiative_ids"] = moved
    if moved:
        return Outcome(
            DeliveryOutcome.APPLIED, 200, None, f"{len(moved)} initiative(s) moved.", values
        )
    if refused:
        return _ignored(202, "REFUSED", refused[0], values)
    return _ignored(200, "UNCHANGED", "Every initiative already has this status.", values)


def _ignored(status: int, reason: str, detail: str, values: dict[str, Any]) -> Outcome:
    return Outcome(DeliveryOutcome.IGNORED, status, reason, detail, values)


def _described(reading: ObjectState) -> dict[str, Any]:
    return {
        "event_name": clip(reading.event_name, 100),
        "object_key": clip(reading.label, 200),
        "provider_state": clip(reading.state_label, 100),
        "provider_updated_at": reading.updated_at,
    }


def integration_actor(integration: Integration) -> Principal:
    """Who events of its changes name; an editor of its team (or of every team)."""
    return Principal(
        organization_id=integration.organization_id,
        scopes=frozenset({Scope.READ, Scope.WRITE}),
        actor_id=integration.id,
        actor_name=integration.name,
        actor_type=ACTOR_TYPE,
        team_ids=None if integration.team_id is None else frozenset({integration.team_id}),
    )


def clip(value: str | None, length: int) -> str | None:
    """Text fit for a column: PostgreSQL refuses NUL, and the column has a length."""
    if value is None:
        return None
    return value.replace("\x00", "")[:length]
