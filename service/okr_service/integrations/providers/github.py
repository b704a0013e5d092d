"""GitHub: `X-Hub-Signature-256` is `sha256=<hex HMAC-SHA256 of the raw body>` under the
webhook's secret; `X-GitHub-Delivery` (a GUID) identifies the delivery, `X-GitHub-Event`
names the event.

Issues are matched by `owner/repo#number`, milestones by `owner/repo/milestone/number` (the
path of their page). State keys: `closed:<state_reason>` then `closed`, or `open`.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from okr_service.integrations.models import Provider
from okr_service.integrations.providers.base import (
    Malformed,
    ObjectState,
    Reading,
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

EVENT_HEADER = "x-github-event"
SIGNATURE_PREFIX = "sha256="

DEFAULT_MAPPING: dict[str, InitiativeStatus | None] = {
    "open": InitiativeStatus.IN_PROGRESS,
    "closed": InitiativeStatus.DONE,
    "closed:completed": InitiativeStatus.DONE,
    "closed:not_planned": InitiativeStatus.CANCELLED,
    "closed:duplicate": InitiativeStatus.CANCELLED,
}


def signature_matches(secret: str, given: str, body: bytes) -> bool:
    return same_text(SIGNATURE_PREFIX + hmac_sha256_hex(secret, body), given.lower())


def read(body: Any, headers: Mapping[str, str], now: datetime) -> Reading:
    event = headers.get(EVENT_HEADER, "").strip()
    if not event:
        raise Malformed("MALFORMED_BODY", "No X-GitHub-Event header.")
    action = optional_text(body, "action")
    name = f"{event}.{action}" if action else event
    if event == "ping":
        return Skip(name, "PING", "GitHub's hello: the webhook reaches okr-service.")
    if event not in ("issues", "milestone"):
        return Skip(name, "UNSUPPORTED_EVENT", f"{event} events are not followed.")
    if action == "deleted":
        return Skip(name, "OBJECT_REMOVED", "Deleted on GitHub: the initiative is left as is.")
    repository = text(body, "repository", "full_name")
    if event == "issues":
        return _issue(name, repository, field(body, "issue"))
    return _milestone(name, repository, field(body, "milestone"))


def _issue(event: str, repository: str, issue: Any) -> ObjectState:
    if not isinstance(issue, dict):
        raise Malformed("MALFORMED_BODY", "Missing object at issue.")
    label = f"{repository}#{text(issue, 'number')}"
    state = _state(issue)
    reason = optional_text(issue, "state_reason")
    return ObjectState(
        event_name=event,
        label=label,
        watermark_key=f"issue:{label.lower()}",
        match_keys=keys(label),
        state_keys=keys(f"{state}:{reason}" if reason else None, state),
        state_label=f"{state} ({reason})" if reason else state,
        updated_at=moment(issue, "updated_at"),
    )


def _milestone(event: str, repository: str, milestone: Any) -> ObjectState:
    if not isinstance(milestone, dict):
        raise Malformed("MALFORMED_BODY", "Missing object at milestone.")
    label = f"{repository}/milestone/{text(milestone, 'number')}"
    state = _state(milestone)
    return ObjectState(
        event_name=event,
        label=label,
        watermark_key=f"milestone:{label.lower()}",
        match_keys=keys(label),
        state_keys=keys(state),
        state_label=state,
        updated_at=moment(milestone, "updated_at"),
    )


def _state(item: dict[str, Any]) -> str:
    state = text(item, "state").lower()
    if state not in ("open", "closed"):
        raise Malformed("MALFORMED_BODY", "state is neither open nor closed.")
    return state


SCHEME = Scheme(
    provider=Provider.GITHUB,
    signature_header="x-hub-signature-256",
    delivery_id_header="x-github-delivery",
    signature_matches=signature_matches,
    read=read,
    default_mapping=DEFAULT_MAPPING,
)
