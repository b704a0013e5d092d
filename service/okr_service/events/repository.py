"""Reads of the event log, and the rows a delete takes along."""

from collections.abc import Collection, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, all_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Uuid

from okr_service.events.models import Event
from okr_service.kit.models import Base
from okr_service.kit.repository import Page, Window, page


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
