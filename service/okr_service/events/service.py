"""Domain events, appended to the outbox in the transaction of the change they describe.

Every type comes from the catalog (`events.catalog.EventType`), which also says what the
event's subject is and who may hear of it.
"""

from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, NamedTuple
from uuid import UUID

import orjson
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.relay import to_base64
from uuid_utils.compat import uuid7

from okr_service.events import repository
from okr_service.events.catalog import CATALOG, REMOVALS, UNTOLD_REMOVALS, Audience, EventType
from okr_service.events.metadata import cascading_references, model_of, referenced_type
from okr_service.kit.errors import DomainError, ErrorCode
from okr_service.kit.ids import global_id
from okr_service.kit.models import Base
from okr_service.kit.principal import Principal, Scope
from okr_service.kit.repository import Page, Window
from okr_service.kit.rows import Statement
from okr_service.kit.tracing import current_traceparent

NOTIFY_CHANNEL = repository.NOTIFY_CHANNEL  # live subscriptions LISTEN to it
# Internal columns no consumer needs.
HIDDEN_COLUMNS = {"organization_id", "id", "key_hash"}
# The type an actor's global ID names, by actor type (a user's is the token's `sub`).
ACTOR_TYPE_NAMES = {
    "api_key": "ApiKey",
    "user": "User",
    "system": "System",
    "integration": "Integration",  # a roadmap tool's webhook (okr_service/integrations)
}


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def json_value(value: Any) -> Any:
    """A column value as JSON: numbers as floats, dates as ISO 8601, enums by name."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, UUID):
        return str(value)
    return value


def snapshot(obj: Base, type_name: str) -> dict[str, Any]:
    """The full current state of `obj` as consumers see it, references as global IDs."""
    state: dict[str, Any] = {"id": global_id(type_name, obj.id), "typename": type_name}  # type: ignore[attr-defined]
    for column in obj.__table__.columns:
        if column.key in HIDDEN_COLUMNS:
            continue
        value = getattr(obj, column.key)
        reference = referenced_type(column)
        if reference is not None:
            state[camel_case(column.key)] = global_id(reference, value) if value else None
        else:
            state[camel_case(column.key)] = json_value(value)
    return state


def actor_of(principal: Principal) -> dict[str, str]:
    """Who acted, as events show it: its global ID, like every other reference."""
    type_name = ACTOR_TYPE_NAMES.get(principal.actor_type, "Actor")
    return {
        "type": principal.actor_type,
        "id": to_base64(type_name, principal.actor_id),
        "name": principal.actor_name,
    }


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`{field: {from, to}}` for every field whose value differs."""
    return {
        field: {"from": before.get(field), "to": value}
        for field, value in after.items()
        if before.get(field) != value and field != "updatedAt"
    }


class Draft(NamedTuple):
    """An event to append: what `record` writes, drafted where its subject's state is the
    one to tell, for `record_all` to write with others in one statement."""

    id: UUID
    event_type: EventType
    subject_id: UUID
    occurred_at: datetime
    team_id: UUID | None
    data: dict[str, Any]


def draft(
    event_type: EventType,
    subject: Base,
    *,
    changes: dict[str, dict[str, Any]] | None = None,
    object_state: dict[str, Any] | None = None,
    team_id: UUID | None = None,
) -> Draft:
    """The event `record` would append now (see there)."""
    spec = CATALOG[event_type]
    return Draft(
        id=uuid7(),
        event_type=event_type,
        subject_id=subject.id,  # type: ignore[attr-defined]
        occurred_at=datetime.now(UTC),
        team_id=team_id or team_of(subject, spec.subject_type),
        data={
            "object": object_state or snapshot(subject, spec.subject_type),
            "changes": changes or {},
        },
    )


async def record(
    db: AsyncSession,
    actor: Principal,
    event_type: EventType,
    subject: Base,
    *,
    changes: dict[str, dict[str, Any]] | None = None,
    object_state: dict[str, Any] | None = None,
    team_id: UUID | None = None,
) -> None:
    """Append one event. The subject's row must already be written (so it is locked):
    that serialises events of one subject and keeps `sequence` gap-free and unique.

    `team_id`: the team the subject belongs to, when it has no `team_id` of its own (an
    alignment link speaks for its source objective's team). The database writes the
    event's webhook deliveries in the same statement (migrations 0006, 0008).
    """
    event = draft(event_type, subject, changes=changes, object_state=object_state, team_id=team_id)
    await record_all(db, actor, [event])


async def record_all(db: AsyncSession, actor: Principal, events: Sequence[Draft]) -> None:
    """Append drafted events in their order, in one statement (as `record` does each)."""
    if events:
        await repository.append(db, appending(actor, events))


def appending(actor: Principal, events: Sequence[Draft]) -> Statement:
    """`record_all`'s statement, for a writer to run inside its own (a CTE), its events
    appended in the round trip of its write. The subjects must be locked already."""
    rows = [
        (
            event.id,
            event.event_type.value,
            CATALOG[event.event_type].audience.value,
            CATALOG[event.event_type].subject_type,
            event.subject_id,
            event.occurred_at,
            event.team_id,
            orjson.dumps(event.data).decode(),
        )
        for event in events
    ]
    return repository.appending(
        actor.organization_id,
        orjson.dumps(actor_of(actor)).decode(),
        current_traceparent().get("traceparent"),
        rows,
    )


def team_of(subject: Base, type_name: str) -> UUID | None:
    """The team a subject belongs to: its own `team_id`, or itself for a team."""
    if type_name == "Team":
        return subject.id  # type: ignore[attr-defined, no-any-return]
    return getattr(subject, "team_id", None)


async def record_created(
    db: AsyncSession, actor: Principal, obj: Base, event_type: EventType
) -> None:
    await record(db, actor, event_type, obj)


async def delete(
    db: AsyncSession, actor: Principal, obj: Base, *, team_id: UUID | None = None
) -> None:
    """Delete `obj` and tell it: its removal event, then one for every row the database
    deletes along with it (ON DELETE CASCADE, followed to the end), each told as the catalog's
    `REMOVALS` says. Those rows are locked first, so what is told is their last state."""
    organization_id: UUID = obj.organization_id  # type: ignore[attr-defined]
    removed = [(obj, team_id), *await _cascaded(db, organization_id, obj)]
    told = [(row, team, _last_words(row)) for row, team in removed]
    await db.delete(obj)
    await db.flush()
    for row, team, state in told:
        await _record_removal(db, actor, row, team, state)


async def _cascaded(
    db: AsyncSession, organization_id: UUID, obj: Base
) -> list[tuple[Base, UUID | None]]:
    """Every told row the database would delete with `obj`, with the team it speaks for."""
    found: list[tuple[Base, UUID | None]] = []
    for model, column in cascading_references(obj.__table__):
        if model.__name__ in UNTOLD_REMOVALS:
            continue  # nothing told below them: never read (an endpoint's whole log...)
        rows = await repository.lock_referencing(
            db,
            model,
            column,
            organization_id,
            obj.id,  # type: ignore[attr-defined]
        )
        for row in rows:
            if type(row).__name__ in REMOVALS:
                found.append((row, await _team_through_references(db, organization_id, row)))
            found.extend(await _cascaded(db, organization_id, row))
    return found


async def _team_through_references(
    db: AsyncSession, organization_id: UUID, row: Base
) -> UUID | None:
    """A row's team: its own, or that of the first row it references that has one (an
    alignment link speaks for its source objective's team)."""
    own: UUID | None = getattr(row, "team_id", None)
    if own is not None:
        return own
    for column in row.__table__.columns:
        target = referenced_type(column)
        value = getattr(row, column.key)
        if target is None or value is None:
            continue
        model = model_of(target)
        if "team_id" in model.__table__.columns:
            found: UUID | None = await repository.column_of(
                db, model, "team_id", organization_id, value
            )
            return found
    return None


def _last_words(row: Base) -> dict[str, Any]:
    removal = REMOVALS[type(row).__name__]
    return snapshot(row, removal.link_type or CATALOG[removal.event_type].subject_type)


async def _record_removal(
    db: AsyncSession, actor: Principal, row: Base, team_id: UUID | None, state: dict[str, Any]
) -> None:
    removal = REMOVALS[type(row).__name__]
    if removal.link_field is None:
        await record(db, actor, removal.event_type, row, object_state=state, team_id=team_id)
        return
    # A link: told about the object it hangs from, which stays (and is locked to be told).
    subject_type = CATALOG[removal.event_type].subject_type
    subject_model = model_of(subject_type)
    column = next(
        column for column in row.__table__.columns if referenced_type(column) == subject_type
    )
    organization_id: UUID = row.organization_id  # type: ignore[attr-defined]
    [subject] = await repository.lock_referencing(
        db, subject_model, subject_model.__table__.c.id, organization_id, getattr(row, column.key)
    )
    await record(
        db,
        actor,
        removal.event_type,
        subject,
        changes={removal.link_field: {"from": state, "to": None}},
    )


async def apply_update(
    db: AsyncSession,
    actor: Principal,
    obj: Base,
    event_type: EventType,
    changes: dict[str, Any],
    *,
    status_fields: dict[str, EventType] | None = None,
) -> dict[str, dict[str, Any]]:
    """Apply `changes` to a locked row and record what really changed.

    `changes` may carry `expected_version` (optimistic concurrency): the row must still be
    at that version, or nothing is written and VERSION_CONFLICT is reported.

    Emits `event_type` (the subject's `.updated`) with every changed field, then a dedicated
    event for each changed status field (`status_fields` maps attribute -> event type).
    Nothing changed: no event.
    """
    type_name = CATALOG[event_type].subject_type
    expected_version = changes.pop("expected_version", None)
    if expected_version is not None and expected_version != getattr(obj, "version", None):
        raise DomainError.single(
            "expectedVersion",
            f"Changed meanwhile: now at version {getattr(obj, 'version', None)}. "
            "Reload and apply your change again.",
            ErrorCode.VERSION_CONFLICT,
        )
    before = snapshot(obj, type_name)
    for field, value in changes.items():
        setattr(obj, field, value)
    changed = diff(before, snapshot(obj, type_name))
    if not changed:
        return changed
    if hasattr(obj, "version"):
        obj.version += 1
    await db.flush()  # row lock, new updated_at and version
    after = snapshot(obj, type_name)
    await record(db, actor, event_type, obj, changes=changed, object_state=after)
    await record_status_changes(db, actor, obj, changed, after, status_fields or {})
    return changed


async def record_status_change(
    db: AsyncSession,
    actor: Principal,
    obj: Base,
    field: str,
    value: Any,
    event_type: EventType,
) -> bool:
    """Set a field the service derives (not a person's edit: no version bump, no
    `.updated`) and record `event_type` with `{field: {from, to}}` when it moved."""
    before = getattr(obj, field)
    if before == value:
        return False
    setattr(obj, field, value)
    await db.flush()
    await record_all(db, actor, [status_changed(event_type, obj, field, before)])
    return True


def status_changed(event_type: EventType, obj: Base, field: str, before: Any) -> Draft:
    """The event telling that a derived field of `obj` moved from `before` to its value now
    (`record_status_change`'s)."""
    after = getattr(obj, field)
    changes = {camel_case(field): {"from": json_value(before), "to": json_value(after)}}
    return draft(event_type, obj, changes=changes)


async def record_status_changes(
    db: AsyncSession,
    actor: Principal,
    obj: Base,
    changed: dict[str, dict[str, Any]],
    after: dict[str, Any],
    status_fields: dict[str, EventType],
) -> None:
    """A dedicated event for each changed status field (attribute -> event type)."""
    await record_all(db, actor, status_changes(obj, changed, after, status_fields))


def status_changes(
    obj: Base,
    changed: dict[str, dict[str, Any]],
    after: dict[str, Any],
    status_fields: dict[str, EventType],
) -> list[Draft]:
    """`record_status_changes`' events, drafted."""
    return [
        draft(event_type, obj, changes={key: changed[key]}, object_state=after)
        for field, event_type in status_fields.items()
        if (key := camel_case(field)) in changed
    ]


# What only admins read in the log (the catalog's admin-only types).
ADMIN_AUDIENCES = tuple(
    audience.value for audience in Audience if audience is not Audience.SUBSCRIBERS
)


def visible_to(actor: Principal, audience: str) -> bool:
    return Scope.ADMIN in actor.scopes or audience not in ADMIN_AUDIENCES


async def read_log_after(
    db: AsyncSession, organization_id: UUID, after: UUID, seen: Collection[UUID], limit: int
) -> list[Any]:
    """The whole log of an organization after the event `after` (every audience: the caller
    sorts out who may see what, with `visible_to`), leaving out the ids `seen`; up to
    `limit` rows in id order."""
    return await repository.read_after(db, organization_id, after, seen, limit)


async def list_events(
    db: AsyncSession,
    actor: Principal,
    window: Window,
    *,
    types: Collection[EventType] = (),
    subject_id: UUID | None = None,
) -> Page:
    """The event log the actor may see, in order (of some types, or of one subject)."""
    hidden = () if Scope.ADMIN in actor.scopes else ADMIN_AUDIENCES
    return await repository.list_events(
        db,
        actor.organization_id,
        window,
        types=[event_type.value for event_type in types],
        subject_id=subject_id,
        hidden_audiences=hidden,
    )
