"""The event catalog: every event type, declared once.

Emitting code names a type by its `EventType` member (mypy refuses anything else), and the
object it is about, its description and who may hear of it come from its `EventSpec` here.
Webhook subscriptions, `events(types:)`, the OpenAPI `webhooks` section and the README's
list are all derived from `CATALOG`.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from okr_service.kit.errors import ErrorCode
from okr_service.kit.validation import Problems


class EventType(StrEnum):
    TEAM_CREATED = "team.created"
    TEAM_UPDATED = "team.updated"
    CYCLE_CREATED = "cycle.created"
    CYCLE_UPDATED = "cycle.updated"
    CYCLE_STATE_CHANGED = "cycle.state_changed"
    OBJECTIVE_CREATED = "objective.created"
    OBJECTIVE_UPDATED = "objective.updated"
    OBJECTIVE_DELETED = "objective.deleted"
    OBJECTIVE_STATE_CHANGED = "objective.state_changed"
    OBJECTIVE_HEALTH_CHANGED = "objective.health_changed"
    KEY_RESULT_CREATED = "key_result.created"
    KEY_RESULT_UPDATED = "key_result.updated"
    KEY_RESULT_DELETED = "key_result.deleted"
    KEY_RESULT_CHECKED_IN = "key_result.checked_in"
    KEY_RESULT_HEALTH_CHANGED = "key_result.health_changed"
    KEY_RESULT_ACHIEVED = "key_result.achieved"
    KEY_RESULT_SCORED = "key_result.scored"
    KEY_RESULT_CHECK_IN_DUE = "key_result.check_in_due"
    INITIATIVE_CREATED = "initiative.created"
    INITIATIVE_UPDATED = "initiative.updated"
    INITIATIVE_STATUS_CHANGED = "initiative.status_changed"
    INITIATIVE_LINKED = "initiative.linked"
    INITIATIVE_UNLINKED = "initiative.unlinked"
    ALIGNMENT_CREATED = "alignment.created"
    ALIGNMENT_DELETED = "alignment.deleted"
    API_KEY_CREATED = "api_key.created"
    API_KEY_UPDATED = "api_key.updated"
    WEBHOOK_ENDPOINT_CREATED = "webhook_endpoint.created"
    WEBHOOK_ENDPOINT_UPDATED = "webhook_endpoint.updated"
    WEBHOOK_ENDPOINT_DELETED = "webhook_endpoint.deleted"
    WEBHOOK_ENDPOINT_SECRET_ROTATED = "webhook_endpoint.secret_rotated"  # noqa: S105 - a name
    WEBHOOK_ENDPOINT_DISABLED = "webhook_endpoint.disabled"
    INTEGRATION_CREATED = "integration.created"
    INTEGRATION_UPDATED = "integration.updated"
    INTEGRATION_DELETED = "integration.deleted"
    INTEGRATION_SECRET_ROTATED = "integration.secret_rotated"  # noqa: S105 - a name
    WEBHOOK_TEST = "webhook.test"


class Audience(StrEnum):
    """Which webhook endpoints an event type is delivered to (the fan-out trigger's rule)."""

    SUBSCRIBERS = "subscribers"  # endpoints listing no types (all) or this one
    NAMED = "named"  # endpoints listing this type by name: an empty list is not enough
    OWN_ENDPOINT = "own_endpoint"  # the endpoint the event is about, only


@dataclass(frozen=True, slots=True)
class EventSpec:
    subject_type: str  # the GraphQL type of the subject, and of `data.object`
    description: str
    audience: Audience = Audience.SUBSCRIBERS
    # A part `object` carries besides the subject's own fields: `checkIn` (the check-in
    # just recorded) or `checkInDue` (since when, how many periods).
    extra: Literal["checkIn", "checkInDue"] | None = None

    @property
    def admin_only(self) -> bool:
        """Only admins read it in the log; only endpoints that name it receive it."""
        return self.audience is not Audience.SUBSCRIBERS


def _a(noun: str) -> str:
    return f"{'An' if noun[0] in 'aeiouAEIOU' else 'A'} {noun}"


def _created(subject: str, noun: str) -> EventSpec:
    return EventSpec(subject, f"{_a(noun)} was created.")


def _updated(subject: str, noun: str) -> EventSpec:
    return EventSpec(subject, f"{_a(noun)} changed; `changes` holds every changed field.")


def _deleted(subject: str, noun: str) -> EventSpec:
    return EventSpec(
        subject,
        f"{_a(noun)} was deleted (by itself or with what it belonged to); `object` is its "
        "last state.",
    )


def _admin(spec: EventSpec) -> EventSpec:
    return EventSpec(spec.subject_type, spec.description, Audience.NAMED)


CATALOG: dict[EventType, EventSpec] = {
    EventType.TEAM_CREATED: _created("Team", "team"),
    EventType.TEAM_UPDATED: _updated("Team", "team"),
    EventType.CYCLE_CREATED: _created("Cycle", "cycle"),
    EventType.CYCLE_UPDATED: _updated("Cycle", "cycle"),
    EventType.CYCLE_STATE_CHANGED: EventSpec(
        "Cycle", "A cycle moved between planning, active, review and closed."
    ),
    EventType.OBJECTIVE_CREATED: _created("Objective", "objective"),
    EventType.OBJECTIVE_UPDATED: _updated("Objective", "objective"),
    EventType.OBJECTIVE_DELETED: _deleted("Objective", "objective"),
    EventType.OBJECTIVE_STATE_CHANGED: EventSpec(
        "Objective", "An objective moved between draft, active, closed and cancelled."
    ),
    EventType.OBJECTIVE_HEALTH_CHANGED: EventSpec(
        "Objective", "An objective's health changed (on track, at risk, off track)."
    ),
    EventType.KEY_RESULT_CREATED: _created("KeyResult", "key result"),
    EventType.KEY_RESULT_UPDATED: _updated("KeyResult", "key result"),
    EventType.KEY_RESULT_DELETED: _deleted("KeyResult", "key result"),
    EventType.KEY_RESULT_CHECKED_IN: EventSpec(
        "KeyResult",
        "A check-in was recorded; `object.checkIn` is the check-in.",
        extra="checkIn",
    ),
    EventType.KEY_RESULT_HEALTH_CHANGED: EventSpec(
        "KeyResult", "A key result's health changed (on track, at risk, off track)."
    ),
    EventType.KEY_RESULT_ACHIEVED: EventSpec("KeyResult", "A key result met its target."),
    EventType.KEY_RESULT_SCORED: EventSpec(
        "KeyResult",
        "Its cycle closed: the key result's score is frozen (`object.finalScore`, 0 to 1).",
    ),
    EventType.KEY_RESULT_CHECK_IN_DUE: EventSpec(
        "KeyResult",
        "A key result of an active cycle went a whole check-in period "
        "(`OKR_CHECK_IN_CADENCE_DAYS`) without a check-in: once per missed period; "
        "`object.checkInDue` tells since when and how many periods.",
        extra="checkInDue",
    ),
    EventType.INITIATIVE_CREATED: _created("Initiative", "initiative"),
    EventType.INITIATIVE_UPDATED: _updated("Initiative", "initiative"),
    EventType.INITIATIVE_STATUS_CHANGED: EventSpec(
        "Initiative",
        "An initiative's status changed (proposed, planned, in progress, done...).",
    ),
    EventType.INITIATIVE_LINKED: EventSpec(
        "Initiative", "An initiative was linked to a key result, or the link's impact changed."
    ),
    EventType.INITIATIVE_UNLINKED: EventSpec(
        "Initiative",
        "An initiative was unlinked from a key result (also when that key result was deleted).",
    ),
    EventType.ALIGNMENT_CREATED: EventSpec(
        "AlignmentLink", "An alignment link between OKRs was created."
    ),
    EventType.ALIGNMENT_DELETED: _deleted("AlignmentLink", "alignment link"),
    EventType.API_KEY_CREATED: _admin(_created("ApiKey", "API key")),
    EventType.API_KEY_UPDATED: _admin(
        EventSpec("ApiKey", "An API key changed (`revokedAt` when revoked).")
    ),
    EventType.WEBHOOK_ENDPOINT_CREATED: _admin(_created("WebhookEndpoint", "webhook endpoint")),
    EventType.WEBHOOK_ENDPOINT_UPDATED: _admin(_updated("WebhookEndpoint", "webhook endpoint")),
    EventType.WEBHOOK_ENDPOINT_DELETED: _admin(_deleted("WebhookEndpoint", "webhook endpoint")),
    EventType.WEBHOOK_ENDPOINT_SECRET_ROTATED: _admin(
        EventSpec("WebhookEndpoint", "An endpoint's signing secret was rotated.")
    ),
    EventType.WEBHOOK_ENDPOINT_DISABLED: _admin(
        EventSpec("WebhookEndpoint", "An endpoint was disabled (410 Gone, or failing for days).")
    ),
    EventType.INTEGRATION_CREATED: _admin(_created("Integration", "roadmap-tool integration")),
    EventType.INTEGRATION_UPDATED: _admin(_updated("Integration", "roadmap-tool integration")),
    EventType.INTEGRATION_DELETED: _admin(_deleted("Integration", "roadmap-tool integration")),
    EventType.INTEGRATION_SECRET_ROTATED: _admin(
        EventSpec("Integration", "An integration's signing secret was rotated.")
    ),
    EventType.WEBHOOK_TEST: EventSpec(
        "WebhookEndpoint",
        "Sent by sendTestWebhook to that endpoint only.",
        Audience.OWN_ENDPOINT,
    ),
}


@dataclass(frozen=True, slots=True)
class Removal:
    """How the deletion of a row is told: `event_type` about the row itself or, for a link
    (`link_field` given), about the object the link hangs from (the event type's subject),
    whose `changes[link_field]` goes from the link's last state (typed `link_type`) to null."""

    event_type: EventType
    link_field: str | None = None
    link_type: str | None = None


# By model class: how its deletion is told, whether asked for or cascaded by the database.
REMOVALS: dict[str, Removal] = {
    "Objective": Removal(EventType.OBJECTIVE_DELETED),
    "KeyResult": Removal(EventType.KEY_RESULT_DELETED),
    "AlignmentLink": Removal(EventType.ALIGNMENT_DELETED),
    "WebhookEndpoint": Removal(EventType.WEBHOOK_ENDPOINT_DELETED),
    "InitiativeKeyResult": Removal(
        EventType.INITIATIVE_UNLINKED, "keyResultLinks", "InitiativeLink"
    ),
}
# Rows the database deletes along with others, never told on their own: a key result's
# check-ins are part of it, deliveries and attempts are the webhook log itself.
UNTOLD_REMOVALS = frozenset({"CheckIn", "WebhookDelivery", "WebhookAttempt"})

# Types only admins read in the log.
ADMIN_ONLY_TYPES = frozenset(name for name, spec in CATALOG.items() if spec.admin_only)


def spec_of(event_type: EventType) -> EventSpec:
    return CATALOG[event_type]


MAX_UNKNOWN_REPORTED = 10


def check_event_types(problems: Problems, names: Iterable[str], field: str) -> list[EventType]:
    """Event type names as given by a client: trimmed, de-duplicated, every one declared.
    An unknown name is INVALID_VALUE at `[field, index]` (added to `problems`; the first
    `MAX_UNKNOWN_REPORTED` of them)."""
    parsed: list[EventType] = []
    unknown = 0
    for index, name in enumerate(names):
        try:
            parsed.append(EventType(name.strip()))
        except ValueError:
            unknown += 1
            if unknown <= MAX_UNKNOWN_REPORTED:  # a long list of junk gets a short answer
                message = f"Unknown event type '{name.strip()[:100]}'."
                problems.add([field, str(index)], message, ErrorCode.INVALID_VALUE)
    return list(dict.fromkeys(parsed))


def parse_event_types(names: Iterable[str], field: str) -> list[EventType]:
    """`check_event_types`, refusing the whole request (DomainError) on an unknown name."""
    problems = Problems()
    parsed = check_event_types(problems, names, field)
    problems.raise_if_any()
    return parsed


def markdown_list(types: Sequence[EventType] = tuple(EventType)) -> str:
    """The README's list of event types (generated by `okr-service export-contracts`)."""
    lines = []
    for event_type in types:
        spec = CATALOG[event_type]
        note = " Admin-only: delivered only to endpoints that name it." if spec.admin_only else ""
        if spec.audience is Audience.OWN_ENDPOINT:
            note = ""
        lines.append(f"- `{event_type}` ({spec.subject_type}): {spec.description}{note}")
    return "\n".join(lines)
