"""A subscription's stream: its own catch-up after `after`, then its organization's feed
(feed.py), with its token checked again every `subscription_poll_interval_seconds`."""

import asyncio
import time
from collections.abc import AsyncIterator, Collection
from typing import Any
from uuid import UUID

from okr_service.events import service as events
from okr_service.events.catalog import EventType
from okr_service.graphql.subscriptions.context import SubscriptionContext
from okr_service.graphql.subscriptions.feed import (
    LATE_COMMIT_SECONDS,
    MAX_ROWS_PER_READ,
    Subscriber,
    id_floor,
)
from okr_service.kit.db import enter_tenant
from okr_service.kit.repository import Window

PAGE = 100


async def follow(
    context: SubscriptionContext,
    *,
    after: UUID | None,
    types: Collection[EventType] = (),
    subject_id: UUID | None = None,
) -> AsyncIterator[Any]:
    """Event rows as they commit: those after the event `after`, or from now on."""
    settings = context.settings
    joined_at = time.time()
    subscriber = Subscriber(
        context.caller,
        start=after if after is not None else id_floor(joined_at),
        types=types,
        subject_id=subject_id,
        capacity=settings.max_subscription_backlog,
    )
    recheck = settings.subscription_poll_interval_seconds
    with context.feeds.joined(subscriber):
        # What the catch-up delivered that the feed may still hand out (recent ones only).
        horizon = id_floor(joined_at - LATE_COMMIT_SECONDS)
        caught_up: set[UUID] = set()
        if after is not None:
            async for row in catch_up(context, after, types, subject_id):
                if row.id >= horizon:
                    caught_up.add(row.id)
                yield row
        checked_at = time.monotonic()
        while True:
            row = await subscriber.next(recheck)
            if time.monotonic() - checked_at >= recheck:
                # A revoked key's or expired token's subscriptions end here.
                subscriber.principal = await context.still_signed_in()
                checked_at = time.monotonic()
            if subscriber.completed and row is None:
                return  # the organization is gone
            if row is not None and row.id not in caught_up:
                yield row


async def catch_up(
    context: SubscriptionContext,
    after: UUID,
    types: Collection[EventType],
    subject_id: UUID | None,
) -> AsyncIterator[Any]:
    """The caller's visible events after `after` that were committed before it joined."""
    while True:
        # A read is never cut short: a subscription completed (or a client gone) mid-read
        # lets its short transaction finish and end cleanly.
        rows = await asyncio.shield(read(context, after, types, subject_id))
        if rows is None:
            return
        for row in rows:
            yield row
        if len(rows) < MAX_ROWS_PER_READ:
            return
        after = rows[-1].id


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
