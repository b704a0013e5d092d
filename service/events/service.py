"""Domain events, appended to the outbox in the transaction of the change they describe."""

from collections.abc import Collection
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from service.events import repository
from service.events.models import Event
from service.kit.errors import DomainError, ErrorCode
from service.kit.ids import global_id
from service.kit.models import Base
from service.kit.principal import Principal, Scope
from service.kit.repository import Page, Window

# Columns holding references, and the type their global ID names.
_REFERENCE_TYPES = {
    "team_id": "Team",
    "cycle_id": "Cycle",
    "objective_id": "Objective",
    "key_result_id": "KeyResult",
    "initiative_id": "Initiative",
    "source_objective_id": "Objective",
    "target_objective_id": "Objective",
    "target_key_result_id": "KeyResult",
    "origin_id": "Objective",
}
# Internal columns no consumer needs.
HIDDEN_COLUMNS = {"organization_id", "id", "key_hash"}


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
    """The full current state of `obj` as consumers see it, with global IDs."""
    state: dict[str, Any] = {"id": global_id(type_name, obj.id), "typename": type_name}  # type: ignore[attr-defined]
    for column in obj.__table__.columns:
        name = column.key
        if name in HIDDEN_COLUMNS:
            continue
        value = getattr(obj, name)
        reference = referenced_type(name, type_name)
        if reference is not None:
            state[camel_case(name)] = global_id(reference, value) if value else None
        else:
            state[camel_case(name)] = json_value(value)
    return state


def referenced_type(column_key: str, owner_type: str) -> str | None:
    """The node type a column references (shown as a global ID), or None for a plain value.
    A parent is of its owner's type: a team's parent team, a cycle's parent cycle."""
    if column_key == "parent_id":
        return owner_type
    return _REFERENCE_TYPES.get(column_key)


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`{field: {from, to}}` for every field whose value differs."""
    return {
        field: {"from": before.get(field), "to": value}
        for field, value in after.items()
        if before.get(field) != value and field != "updatedAt"
    }


async def record(
    db: AsyncSession,
    actor: Principal,
    event_type: str,
    subject: Base,
    type_name: str,
    *,
    changes: dict[str, dict[str, Any]] | None = None,
    object_state: dict[str, Any] | None = None,
    team_id: UUID | None = None,
) -> None:
    """Append one event. The subject's row must already be written (so it is locked):
    that serialises events of one subject and keeps `sequence` gap-free and unique.

    `team_id`: the team the subject belongs to, when it has no `team_id` of its own (an
    alignment link speaks for its source objective's team). The database writes the
    event's webhook deliveries in the same statement (migration 0006).
    """
    subject_id: UUID = subject.id  # type: ignore[attr-defined]
    next_sequence = (
        select(func.coalesce(func.max(Event.sequence), 0) + 1)
        .where(Event.organization_id == actor.organization_id, Event.subject_id == subject_id)
        .scalar_subquery()
    )
    await db.execute(
        insert(Event).values(
            id=uuid7(),
            organization_id=actor.organization_id,
            type=event_type,
            subject_type=type_name,
            subject_id=subject_id,
            sequence=next_sequence,
            occurred_at=datetime.now(UTC),
            actor=actor.as_actor(),
            team_id=team_id or team_of(subject, type_name),
            data={
                "object": object_state or snapshot(subject, type_name),
                "changes": changes or {},
            },
        )
    )


def team_of(subject: Base, type_name: str) -> UUID | None:
    """The team a subject belongs to: its own `team_id`, or itself for a team."""
    if type_name == "Team":
        return subject.id  # type: ignore[attr-defined, no-any-return]
    return getattr(subject, "team_id", None)


def event_prefix(type_name: str) -> str:
    """`KeyResult` -> `key_result`: the first half of an event type."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in type_name).lstrip("_")


async def record_created(db: AsyncSession, actor: Principal, obj: Base, type_name: str) -> None:
    await record(db, actor, f"{event_prefix(type_name)}.created", obj, type_name)


async def record_deleted(
    db: AsyncSession, actor: Principal, obj: Base, type_name: str, state: dict[str, Any]
) -> None:
    await record(
        db, actor, f"{event_prefix(type_name)}.deleted", obj, type_name, object_state=state
    )


async def apply_update(
    db: AsyncSession,
    actor: Principal,
    obj: Base,
    type_name: str,
    changes: dict[str, Any],
    *,
    status_fields: dict[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Apply `changes` to a locked row and record what really changed.

    `changes` may carry `expected_version` (optimistic concurrency): the row must still be
    at that version, or nothing is written and VERSION_CONFLICT is reported.

    Emits `<type>.updated` with every changed field, then a dedicated event for each changed
    status field (`status_fields` maps attribute -> event type). Nothing changed: no event.
    """
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
    await record(
        db,
        actor,
        f"{event_prefix(type_name)}.updated",
        obj,
        type_name,
        changes=changed,
        object_state=after,
    )
    await record_status_changes(db, actor, obj, type_name, changed, after, status_fields or {})
    return changed


async def record_status_change(
    db: AsyncSession,
    actor: Principal,
    obj: Base,
    type_name: str,
    field: str,
    value: Any,
    event_type: str,
) -> bool:
    """Set a status field the service derives (not a person's edit: no version bump, no
    `.updated`) and record `event_type` with `{field: {from, to}}` when it moved."""
    if getattr(obj, field) == value:
        return False
    before = json_value(getattr(obj, field))
    setattr(obj, field, value)
    await db.flush()
    key = camel_case(field)
    changes = {key: {"from": before, "to": json_value(value)}}
    await record(db, actor, event_type, obj, type_name, changes=changes)
    return True


async def record_status_changes(
    db: AsyncSession,
    actor: Principal,
    obj: Base,
    type_name: str,
    changed: dict[str, dict[str, Any]],
    after: dict[str, Any],
    status_fields: dict[str, str],
) -> None:
    """A dedicated event for each changed status field (attribute -> event type)."""
    for field, event_type in status_fields.items():
        key = camel_case(field)
        if key in changed:
            await record(
                db,
                actor,
                event_type,
                obj,
                type_name,
                changes={key: changed[key]},
                object_state=after,
            )


# Events about credentials and endpoints (their names, URLs) are for admins only.
ADMIN_ONLY_SUBJECTS = ("WebhookEndpoint", "ApiKey")


def visible_to(actor: Principal, subject_type: str) -> bool:
    return Scope.ADMIN in actor.scopes or subject_type not in ADMIN_ONLY_SUBJECTS


async def list_events(
    db: AsyncSession,
    actor: Principal,
    window: Window,
    *,
    types: Collection[str] = (),
    subject_id: UUID | None = None,
) -> Page:
    """The event log the actor may see, in order (of some types, or of one subject)."""
    hidden = () if Scope.ADMIN in actor.scopes else ADMIN_ONLY_SUBJECTS
    return await repository.list_events(
        db,
        actor.organization_id,
        window,
        types=types,
        subject_id=subject_id,
        hidden_subject_types=hidden,
    )
