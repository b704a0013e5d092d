"""Reads of the event log."""

from collections.abc import Collection
from uuid import UUID

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from service.events.models import Event
from service.kit.repository import Page, Window, page


async def list_events(
    db: AsyncSession,
    organization_id: UUID,
    window: Window,
    *,
    types: Collection[str] = (),
    subject_id: UUID | None = None,
    hidden_subject_types: Collection[str] = (),
) -> Page:
    """The log in order, of some types, of one subject, without some subjects' events."""
    filters: list[ColumnElement[bool]] = [Event.type.in_(list(types))] if types else []
    if subject_id is not None:
        filters.append(Event.subject_id == subject_id)
    if hidden_subject_types:
        filters.append(Event.subject_type.not_in(list(hidden_subject_types)))
    return await page(db, Event, organization_id, window, filters)
