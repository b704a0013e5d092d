"""Every event type a webhook endpoint can subscribe to, and what its object is."""

from dataclasses import dataclass

from service.alignment.models import AlignmentLink
from service.cycles.models import Cycle
from service.initiatives.models import Initiative
from service.key_results.models import KeyResult
from service.kit.models import Base
from service.objectives.models import Objective
from service.teams.models import Team
from service.webhooks.fan_out import TEST_EVENT
from service.webhooks.models import WebhookEndpoint

ENDPOINT_DISABLED = "webhook_endpoint.disabled"


@dataclass(frozen=True, slots=True)
class EventKind:
    event_type: str
    object_type: str  # the GraphQL type name of `data.object`
    model: type[Base]
    description: str


def _lifecycle(prefix: str, type_name: str, model: type[Base], noun: str) -> list[EventKind]:
    return [
        EventKind(f"{prefix}.created", type_name, model, f"A {noun} was created."),
        EventKind(
            f"{prefix}.updated",
            type_name,
            model,
            f"A {noun} changed; `changes` holds every changed field.",
        ),
    ]


def _deleted(prefix: str, type_name: str, model: type[Base], noun: str) -> EventKind:
    return EventKind(
        f"{prefix}.deleted",
        type_name,
        model,
        f"A {noun} was deleted; `object` is its last state.",
    )


EVENT_KINDS: tuple[EventKind, ...] = (
    *_lifecycle("team", "Team", Team, "team"),
    *_lifecycle("cycle", "Cycle", Cycle, "cycle"),
    EventKind(
        "cycle.state_changed",
        "Cycle",
        Cycle,
        "A cycle moved between planning, active, review and closed.",
    ),
    *_lifecycle("objective", "Objective", Objective, "objective"),
    _deleted("objective", "Objective", Objective, "objective"),
    EventKind(
        "objective.state_changed",
        "Objective",
        Objective,
        "An objective moved between draft, active, closed and cancelled.",
    ),
    EventKind(
        "objective.health_changed",
        "Objective",
        Objective,
        "An objective's health changed (on track, at risk, off track).",
    ),
    *_lifecycle("key_result", "KeyResult", KeyResult, "key result"),
    _deleted("key_result", "KeyResult", KeyResult, "key result"),
    EventKind(
        "key_result.checked_in",
        "KeyResult",
        KeyResult,
        "A check-in was recorded; `object.checkIn` is the check-in.",
    ),
    EventKind(
        "key_result.health_changed",
        "KeyResult",
        KeyResult,
        "A key result's health changed (on track, at risk, off track).",
    ),
    EventKind("key_result.achieved", "KeyResult", KeyResult, "A key result met its target."),
    *_lifecycle("initiative", "Initiative", Initiative, "initiative"),
    EventKind(
        "initiative.status_changed",
        "Initiative",
        Initiative,
        "An initiative's status changed (proposed, planned, in progress, done...).",
    ),
    EventKind(
        "initiative.linked",
        "Initiative",
        Initiative,
        "An initiative was linked to a key result, or the link's impact changed.",
    ),
    EventKind(
        "initiative.unlinked",
        "Initiative",
        Initiative,
        "An initiative was unlinked from a key result.",
    ),
    EventKind(
        "alignment.created",
        "AlignmentLink",
        AlignmentLink,
        "An alignment link between OKRs was created.",
    ),
    EventKind(
        "alignment.deleted",
        "AlignmentLink",
        AlignmentLink,
        "An alignment link was deleted; `object` is its last state.",
    ),
    EventKind(
        ENDPOINT_DISABLED,
        "WebhookEndpoint",
        WebhookEndpoint,
        "An endpoint was disabled (410 Gone, or failing for days).",
    ),
    EventKind(
        TEST_EVENT,
        "WebhookEndpoint",
        WebhookEndpoint,
        "Sent by sendTestWebhook to that endpoint only.",
    ),
)
EVENT_TYPES = frozenset(kind.event_type for kind in EVENT_KINDS)
