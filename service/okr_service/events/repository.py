"""The event log: appending to it, reading it, and the rows a delete takes along."""

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, all_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Uuid

from okr_service.events.models import Event
from okr_service.kit.models import Base
from okr_service.kit.repository import Page, Window, page
from okr_service.kit.rows import Statement, execute

# Each committed transaction that wrote events of an organization notifies this channel
# with the organization's id (live subscriptions LISTEN to it: graphql/subscriptions).
NOTIFY_CHANNEL = "okr_events"

# Events in the order given, each subject's numbered on from its last `sequence` (every one
# of a subject in one statement counts on from the same last one, hence `row_number`). The
# live subscriptions' wake-up goes in the same round trip: PostgreSQL delivers it when the
# transaction commits (never if it rolls back), once per organization however many events
# the transaction wrote. It names the organization, never the data.
_APPEND = (
    # S608: constants only; every value is a parameter.
    "INSERT INTO events (id, organization_id, type, audience, subject_type, subject_id,"  # noqa: S608
    " sequence, occurred_at, team_id, actor, data, trace_parent)"
    " SELECT new.id, $1, new.type, new.audience, new.subject_type, new.subject_id,"
    "  coalesce((SELECT max(told.sequence) FROM events AS told"
    "   WHERE told.organization_id = $1 AND told.subject_id = new.subject_id), 0)"
    "  + row_number() OVER (PARTITION BY new.subject_id ORDER BY new.position),"
    "  new.occurred_at, new.team_id, $2, new.data, $3"
    " FROM unnest($4::uuid[], $5::text[], $6::text[], $7::text[], $8::uuid[],"
    "  $9::timestamptz[], $10::uuid[], $11::jsonb[]) WITH ORDINALITY"
    "  AS new(id, type, audience, subject_type, subject_id, occurred_at, team_id, data, position)"
    " ORDER BY new.position"
    f" RETURNING pg_notify('{NOTIFY_CHANNEL}', organization_id::text)"
)


def appending(
    organization_id: UUID,
    actor: str,
    trace_parent: str | None,
    rows: Sequence[tuple[UUID, str, str, str, UUID, datetime, UUID | None, str]],
) -> Statement:
    """The statement appending events of one actor; `rows`: (id, type, audience, subject
    type, subject id, occurred at, team id, data), JSON as text. The database writes each
    event's webhook deliveries in the same statement (migrations 0006, 0008)."""
    columns = [list(column) for column in zip(*rows, strict=True)]
    return Statement(_APPEND, [organization_id, actor, trace_parent, *columns])


async def append(db: AsyncSession, statement: Statement) -> None:
    await execute(db, statement)


async def list_events(
    db: AsyncSession,
    organization_id: UUID,
    window: Window,
    *,
    types: Collection[str] = (),
    subject_id: UUID | None = None,
    hidden_audiences: Collection[str] = (),
) -> Page:
    """The log in order, of some types, of one subject, without some audiences' events."""
    filters: list[ColumnElement[bool]] = [Event.type.in_(list(types))] if types else []
    if subject_id is not None:
        filters.append(Event.subject_id == subject_id)
    if hidden_audiences:
        filters.append(Event.audience.not_in(list(hidden_audiences)))
    return await page(db, Event, organization_id, window, filters)


async def read_after(
    db: AsyncSession, organization_id: UUID, after: UUID, seen: Collection[UUID], limit: int
) -> list[Any]:
    """Up to `limit` events after the id `after`, every audience, in id order, leaving out
    the ids `seen` (read already: only what is new crosses the wire)."""
    statement = select(Event.__table__).where(
        Event.organization_id == organization_id, Event.id > after
    )
    if seen:
        statement = statement.where(
            Event.id != all_(bindparam("seen", list(seen), type_=ARRAY(Uuid())))
        )
    return list(await db.execute(statement.order_by(Event.id).limit(limit)))


async def lock_referencing(
    db: AsyncSession, model: type[Base], column: Any, organization_id: UUID, id_: UUID
) -> Sequence[Any]:
    """Rows of `model` whose `column` references `id_`, locked for update (in key order, as
    every writer locks), so their last state is the one told."""
    table = model.__table__
    return (
        await db.scalars(
            select(model)
            .where(table.c.organization_id == organization_id, column == id_)
            .order_by(table.c.id)
            .with_for_update()
        )
    ).all()


async def column_of(
    db: AsyncSession, model: type[Base], column: str, organization_id: UUID, id_: UUID
) -> Any:
    table = model.__table__
    return await db.scalar(
        select(table.c[column]).where(table.c.organization_id == organization_id, table.c.id == id_)
    )
