"""A subscription's events: read from the outbox (`events`), so only committed changes,
in the order of their ids (UUIDv7: time-ordered), resumable after any event id.

Each read is a short transaction of its own, as the tenant (row-level security), through
the events service, which hides what the caller's role may not see; the caller's token is
checked again before each (a revoked key's subscriptions end at their next read). Between reads the
subscription waits `subscription_poll_interval_seconds`; a busy log is read in pages.

Two transactions may commit in the other order than their events' ids: an event can
appear after one with a greater id was delivered. Each read therefore looks back
`LATE_COMMIT_SECONDS` behind its cursor (never before where the subscription started)
and delivers what it had not delivered yet, each event once.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Collection
from typing import Any
from uuid import UUID

from service.events import service as events
from service.events.catalog import EventType
from service.graphql.subscriptions.context import SubscriptionContext
from service.kit.db import enter_tenant
from service.kit.repository import Window

LATE_COMMIT_SECONDS = 10.0
PAGE = 100
MAX_ROWS_PER_READ = 1000  # a long backlog is caught up over several reads


def id_floor(moment: float) -> UUID:
    """The smallest UUIDv7 of the millisecond `moment` (seconds since the epoch)."""
    return UUID(int=int(moment * 1000) << 80)


async def follow(
    context: SubscriptionContext,
    *,
    after: UUID | None,
    types: Collection[EventType] = (),
    subject_id: UUID | None = None,
) -> AsyncIterator[Any]:
    """Event rows as they commit: those after the event `after`, or from now on."""
    start = after if after is not None else id_floor(time.time())
    cursor = start
    delivered: dict[UUID, None] = {}  # within the look-back window, oldest first
    interval = context.settings.subscription_poll_interval_seconds
    while True:
        floor = max(start, min(cursor, id_floor(time.time() - LATE_COMMIT_SECONDS)))
        # A read is never cut short: a subscription completed (or a client gone) mid-read
        # lets its short transaction finish and end cleanly.
        rows = await asyncio.shield(read(context, floor, types, subject_id))
        if rows is None:
            return  # the organization is gone: nothing more will come
        for row in rows:
            if row.id in delivered:
                continue
            delivered[row.id] = None
            cursor = max(cursor, row.id)
            yield row
        for seen in [seen for seen in delivered if seen < floor]:
            del delivered[seen]
        if len(rows) < MAX_ROWS_PER_READ:
            await asyncio.sleep(interval)


async def read(
    context: SubscriptionContext,
    after: UUID,
    types: Collection[EventType],
    subject_id: UUID | None,
) -> list[Any] | None:
    """The caller's visible events after `after`, up to MAX_ROWS_PER_READ, in id order;
    None when its organization no longer exists."""
    principal = await context.still_signed_in()
    rows: list[Any] = []
    async with context.sessionmaker() as db:
        if not await enter_tenant(db, principal.organization_id):
            return None
        while len(rows) < MAX_ROWS_PER_READ:
            page = await events.list_events(
                db, principal, Window(PAGE, after), types=types, subject_id=subject_id
            )
            rows += page.rows
            if not page.has_next:
                break
            after = page.resume_after or page.rows[-1].id
        await db.rollback()
    return rows
