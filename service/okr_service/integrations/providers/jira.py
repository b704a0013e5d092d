"""Jira Cloud admin webhooks registered with a secret: `X-Hub-Signature` is
`sha256=<hex HMAC-SHA256 of the raw body>` (the WebSub `method=signature` form);
`X-Atlassian-Webhook-Identifier` identifies the delivery and stays the same on retries.

Issues (epics are issues too) are matched by key (PROJ-7) or numeric id. State keys: the
resolution name when the issue has one (Done, Won't Do, Duplicate...: it says how the work
ended, whatever the status is called), then the status name, then the status category key
(new, indeterminate, done). The provider's updated-at is the issue's `fields.updated`,
or the event's `timestamp` when a payload leaves it out.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
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

ISSUE_EVENTS = ("jira:issue_created", "jira:issue_updated")
DELETED = "jira:issue_deleted"

DEFAULT_MAPPING: dict[str, InitiativeStatus | None] = {
    # Status categories: To Do, In Progress, Done.
    "new": InitiativeStatus.PLANNED,
    "indeterminate": InitiativeStatus.IN_PROGRESS,
    "done": InitiativeStatus.DONE,
    # Resolutions that close an issue without doing it.
    "won't do": InitiativeStatus.CANCELLED,
    "won't fix": InitiativeStatus.CANCELLED,
    "duplicate": InitiativeStatus.CANCELLED,
    "declined": InitiativeStatus.CANCELLED,
    "cannot reproduce": InitiativeStatus.CANCELLED,
}


def signature_matches(secret: str, given: str, body: bytes) -> bool:
    method, _, digest = given.partition("=")
    return method.lower() == "sha256" and same_text(hmac_sha256_hex(secret, body), digest.lower())


def read(body: Any, headers: Mapping[str, str], now: datetime) -> Reading:
    event = text(body, "webhookEvent")
    if event == DELETED:
        return Skip(event, "OBJECT_REMOVED", "Deleted in Jira: the initiative is left as is.")
    if event not in ISSUE_EVENTS:
        return Skip(event, "UNSUPPORTED_EVENT", f"{event} events are not followed.")
    issue = field(body, "issue")
    if not isinstance(issue, dict):
        raise Malformed("MALFORMED_BODY", "Missing object at issue.")
    key, id_ = text(issue, "key"), text(issue, "id")
    status = optional_text(issue, "fields", "status", "name")
    category = text(issue, "fields", "status", "statusCategory", "key")
    resolution = optional_text(issue, "fields", "resolution", "name")
    return ObjectState(
        event_name=event,
        label=key,
        watermark_key=f"issue:{id_.lower()}",
        match_keys=keys(key, id_),
        state_keys=keys(resolution, status, category),
        state_label=" / ".join(part for part in (status, resolution) if part) or category,
        updated_at=_updated_at(body, issue),
    )


def _updated_at(body: Any, issue: dict[str, Any]) -> datetime:
    if field(issue, "fields", "updated") is not None:
        return moment(issue, "fields", "updated")
    sent = field(body, "timestamp")
    if not isinstance(sent, int) or isinstance(sent, bool):
        raise Malformed("MALFORMED_BODY", "Neither issue.fields.updated nor timestamp.")
    try:
        return datetime.fromtimestamp(sent / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise Malformed("MALFORMED_BODY", "timestamp is out of range.") from None


SCHEME = Scheme(
    provider=Provider.JIRA,
    signature_header="x-hub-signature",
    delivery_id_header="x-atlassian-webhook-identifier",
    signature_matches=signature_matches,
    read=read,
    default_mapping=DEFAULT_MAPPING,
)
