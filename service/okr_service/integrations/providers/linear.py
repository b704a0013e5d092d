"""Linear: `Linear-Signature` is the hex HMAC-SHA256 of the raw body under the webhook's
signing secret; the body's `webhookTimestamp` (Unix milliseconds) must be within a minute
of now, so a captured delivery cannot be replayed later. `Linear-Delivery` identifies the
delivery.

Issues are matched by identifier (ENG-42) or id, projects by id or slug id. State keys: the
workflow state's name, then its type (issues: triage, backlog, unstarted, started,
completed, canceled; projects: backlog, planned, started, paused, completed, canceled).
"""

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from okr_service.integrations.models import Provider
from okr_service.integrations.providers.base import (
    Malformed,
    ObjectState,
    Reading,
    Refused,
    Scheme,
    Skip,
    field,
    hmac_sha256_hex,
    keys,
    moment,
    optional_text,
    same_text,
    text,
)
from okr_service.okr.enums import InitiativeStatus

TIMESTAMP_TOLERANCE = timedelta(minutes=1)  # as Linear's own SDK checks it
SUPPORTED_TYPES = ("Issue", "Project")

DEFAULT_MAPPING: dict[str, InitiativeStatus | None] = {
    "triage": InitiativeStatus.PROPOSED,
    "backlog": InitiativeStatus.PROPOSED,
    "unstarted": InitiativeStatus.PLANNED,
    "planned": InitiativeStatus.PLANNED,
    "started": InitiativeStatus.IN_PROGRESS,
    "paused": InitiativeStatus.PARKED,
    "completed": InitiativeStatus.DONE,
    "canceled": InitiativeStatus.CANCELLED,
}


def signature_matches(secret: str, given: str, body: bytes) -> bool:
    return same_text(hmac_sha256_hex(secret, body), given.lower())


def check_fresh(body: Any, now: datetime) -> None:
    sent = field(body, "webhookTimestamp")
    if not isinstance(sent, int | float) or isinstance(sent, bool):
        raise Refused("STALE_TIMESTAMP", "No webhookTimestamp in the body.")
    try:
        sent_at = datetime.fromtimestamp(sent / 1000, tz=now.tzinfo)
    except (OverflowError, OSError, ValueError):
        raise Refused("STALE_TIMESTAMP", "webhookTimestamp is out of range.") from None
    if abs(now - sent_at) > TIMESTAMP_TOLERANCE:
        raise Refused("STALE_TIMESTAMP", "webhookTimestamp is more than a minute away from now.")


def read(body: Any, headers: Mapping[str, str], now: datetime) -> Reading:
    check_fresh(body, now)
    kind, action = text(body, "type"), text(body, "action")
    event = f"{kind}.{action}"
    if kind not in SUPPORTED_TYPES:
        return Skip(event, "UNSUPPORTED_EVENT", f"{kind} events are not followed.")
    if action == "remove":
        return Skip(event, "OBJECT_REMOVED", "Removed in Linear: the initiative is left as is.")
    data = field(body, "data")
    if not isinstance(data, dict):
        raise Malformed("MALFORMED_BODY", "Missing object at data.")
    if kind == "Issue":
        return _issue(event, data)
    return _project(event, data)


def _issue(event: str, data: dict[str, Any]) -> ObjectState:
    identifier, id_ = text(data, "identifier"), text(data, "id")
    name, state_type = optional_text(data, "state", "name"), text(data, "state", "type")
    return ObjectState(
        event_name=event,
        label=identifier,
        watermark_key=f"issue:{id_.lower()}",
        match_keys=keys(identifier, id_),
        state_keys=keys(name, state_type),
        state_label=name or state_type,
        updated_at=moment(data, "updatedAt"),
    )


def _project(event: str, data: dict[str, Any]) -> ObjectState:
    id_ = text(data, "id")
    # Project statuses are objects ({name, type}); older payloads carry a `state` string.
    status = field(data, "status")
    if isinstance(status, dict):
        name, state_type = optional_text(status, "name"), text(status, "type")
    else:
        name, state_type = None, text(data, "state")
    return ObjectState(
        event_name=event,
        label=optional_text(data, "name") or id_,
        watermark_key=f"project:{id_.lower()}",
        match_keys=keys(id_, optional_text(data, "slugId")),
        state_keys=keys(name, state_type),
        state_label=name or state_type,
        updated_at=moment(data, "updatedAt"),
    )


SCHEME = Scheme(
    provider=Provider.LINEAR,
    signature_header="linear-signature",
    delivery_id_header="linear-delivery",
    signature_matches=signature_matches,
    read=read,
    default_mapping=DEFAULT_MAPPING,
)
