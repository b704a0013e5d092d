"""A subscription's events: read from the outbox (`events`), so only committed changes,
in the order of their ids (UUIDv7: time-ordered), resumable after any event id.

One feed per organization per process (`OrganizationFeed`), shared by every open
subscription of that organization in the process:

- The transaction that writes events notifies `events.service.NOTIFY_CHANNEL` with the
  organization's id, delivered at commit. The process LISTENs on one connection
  (`SubscriptionFeeds`); a notification wakes that organization's feed, which reads the new
  events once, in a short transaction as the tenant (row-level security), and hands each
  to every subscriber that wants it (its types, subject, and what its role may see).
- A lost notification loses nothing: each feed also reads every
  `subscription_poll_interval_seconds` without being woken, and all feeds read as soon as
  LISTEN (re)starts.
- Each subscriber has a bounded backlog. A client that reads slower than its events come
  fills it and is ended with SUBSCRIPTION_TOO_SLOW (it reconnects with `after`, losing
  nothing); the feed and the other subscribers never wait for it.
- A subscription with `after` first catches up on its own (its own reads, through the events
  service), having joined the feed before, so nothing falls between the two.

Two transactions may commit in the other order than their events' ids: an event can appear
after one with a greater id was read. Each read therefore looks back `LATE_COMMIT_SECONDS`
behind the feed's cursor and hands out only what it had not read yet, each event once.
"""

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Collection, Iterator
from typing import Any
from uuid import UUID

from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from okr_service.events import service as events
from okr_service.events.catalog import EventType
from okr_service.kit.db import create_engine, direct_url, enter_tenant
from okr_service.kit.listen import listen
from okr_service.kit.principal import Principal
from okr_service.kit.settings import Settings

logger = logging.getLogger(__name__)

LATE_COMMIT_SECONDS = 10.0
MAX_ROWS_PER_READ = 1000  # a long backlog is caught up over several reads
RECONNECT_SECONDS = 1.0  # LISTEN down means waiting for the fallback poll: retry soon
TOO_SLOW = "SUBSCRIPTION_TOO_SLOW"


def id_floor(moment: float) -> UUID:
    """The smallest UUIDv7 of the millisecond `moment` (seconds since the epoch)."""
    return UUID(int=int(moment * 1000) << 80)


class Subscriber:
    """One open subscription, as its organization's feed sees it: what it wants, and the
    events handed to it that its client has not taken yet (at most `capacity`)."""

    def __init__(
        self,
        principal: Principal,
        *,
        start: UUID,
        types: Collection[EventType],
        subject_id: UUID | None,
        capacity: int,
    ) -> None:
        self.principal = principal  # refreshed as its token is checked again
        self.start = start  # only events after this id
        self.types = frozenset(event_type.value for event_type in types)
        self.subject_id = subject_id
        self.capacity = capacity
        self.backlog: deque[Any] = deque()
        self.arrived = asyncio.Event()
        self.ended: GraphQLError | None = None
        self.completed = False  # the organization is gone: nothing more will come

    def wants(self, row: Any) -> bool:
        return (
            row.id > self.start
            and (not self.types or row.type in self.types)
            and (self.subject_id is None or row.subject_id == self.subject_id)
            and events.visible_to(self.principal, row.audience)
        )

    def offer(self, row: Any) -> bool:
        """Queue `row`; False when the backlog was full: the subscriber is then ended."""
        if len(self.backlog) >= self.capacity:
            self.backlog.clear()  # its client reconnects with `after`: nothing is lost
            self.ended = GraphQLError(
                f"More than {self.capacity} events waited for this subscription: its client "
                "reads too slowly. Subscribe again with `after` the last event received.",
                extensions={"code": TOO_SLOW, "max": self.capacity},
            )
            self.arrived.set()
            return False
        self.backlog.append(row)
        self.arrived.set()
        return True

    def complete(self) -> None:
        self.completed = True
        self.arrived.set()

    async def next(self, within: float) -> Any | None:
        """The next event handed to it; None when none came within `within` seconds or the
        subscription is complete (see `completed`). Raises the error that ended it."""
        while not self.backlog:
            if self.ended is not None:
                raise self.ended
            if self.completed:
                return None
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), within)
            except TimeoutError:
                return None
        return self.backlog.popleft()


class OrganizationFeed:
    """The new events of one organization, read once per wake for all its subscribers."""

    def __init__(
        self,
        organization_id: UUID,
        sessionmaker: async_sessionmaker[AsyncSession],
        fallback_seconds: float,
    ) -> None:
        self.organization_id = organization_id
        self.sessionmaker = sessionmaker
        self.fallback_seconds = fallback_seconds
        self.subscribers: set[Subscriber] = set()
        # Late commits from just before the first subscriber joined are caught too.
        self.start = id_floor(time.time() - LATE_COMMIT_SECONDS)
        self.cursor = self.start
        self.read_ids: dict[UUID, None] = {}  # within the look-back window, oldest first
        self.woken = asyncio.Event()
        self.closing = False
        self.task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self.woken.set()

    def close(self) -> None:
        """Its last subscriber left: the feed ends after the read it may be in (a read is
        never cut short, so its transaction ends cleanly)."""
        self.closing = True
        self.woken.set()

    async def run(self) -> None:
        while not self.closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.woken.wait(), self.fallback_seconds)
            self.woken.clear()
            if self.closing:
                return
            try:
                rows = await self.read()
            except Exception:
                # The database is away: the subscribers wait, the next wake or poll retries.
                logger.warning("reading events for subscriptions failed", exc_info=True)
                continue
            if rows is None:
                for subscriber in self.subscribers:
                    subscriber.complete()
                return
            self.hand_out(rows)
            if len(rows) >= MAX_ROWS_PER_READ:
                self.woken.set()  # more are waiting

    async def read(self) -> list[Any] | None:
        """The events not read yet, up to MAX_ROWS_PER_READ, in id order; None when the
        organization no longer exists."""
        floor = max(self.start, min(self.cursor, id_floor(time.time() - LATE_COMMIT_SECONDS)))
        for seen in [seen for seen in self.read_ids if seen <= floor]:
            del self.read_ids[seen]
        async with self.sessionmaker() as db:
            if not await enter_tenant(db, self.organization_id):
                return None
            rows = await events.read_log_after(
                db, self.organization_id, floor, self.read_ids, MAX_ROWS_PER_READ
            )
            await db.rollback()
        for row in rows:
            self.read_ids[row.id] = None
            self.cursor = max(self.cursor, row.id)
        return rows

    def hand_out(self, rows: list[Any]) -> None:
        for row in rows:
            for subscriber in list(self.subscribers):
                if subscriber.wants(row) and not subscriber.offer(row):
                    self.subscribers.discard(subscriber)  # too slow: ended


class SubscriptionFeeds:
    """This process's organization feeds, woken by one LISTEN connection."""

    def __init__(
        self,
        database_url: str,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        self.database_url = database_url
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.fallback_seconds = settings.subscription_poll_interval_seconds
        self.feeds: dict[UUID, OrganizationFeed] = {}
        self.listening = asyncio.Event()  # set once LISTEN first runs (tests wait on it)
        self._closing: set[asyncio.Task[None]] = set()  # feeds ending their last read
        self._stopping = asyncio.Event()
        self._engine: AsyncEngine | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # Its own engine: the listening connection is never one of the requests' pool, and
        # goes to PostgreSQL itself (a transaction pooler cannot hold a LISTEN).
        self._engine = create_engine(
            direct_url(self.settings, self.database_url), self.settings, direct=True
        )
        self._task = asyncio.create_task(
            listen(
                self._engine,
                events.NOTIFY_CHANNEL,
                self.notified,
                self._stopping,
                on_listening=self.caught_up,
                retry_seconds=RECONNECT_SECONDS,
            ),
            name="subscription-feeds",
        )

    async def stop(self) -> None:
        self._stopping.set()
        for feed in self.feeds.values():
            feed.close()
        tasks = {feed.task for feed in self.feeds.values() if feed.task} | self._closing
        if self._task is not None:
            tasks.add(self._task)
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=5)
            for task in stuck:
                task.cancel()
        if self._engine is not None:
            await self._engine.dispose()

    def notified(self, payload: str) -> None:
        try:
            organization_id = UUID(payload)
        except ValueError:
            return
        feed = self.feeds.get(organization_id)
        if feed is not None:
            feed.wake()

    def caught_up(self) -> None:
        """LISTEN (re)started: what was committed while it was down was never announced."""
        for feed in self.feeds.values():
            feed.wake()
        self.listening.set()

    @contextlib.contextmanager
    def joined(self, subscriber: Subscriber) -> Iterator[None]:
        """`subscriber` hears of its organization's events for as long as the block runs."""
        organization_id = subscriber.principal.organization_id
        feed = self.feeds.get(organization_id)
        if feed is None:
            feed = OrganizationFeed(organization_id, self.sessionmaker, self.fallback_seconds)
            feed.task = asyncio.create_task(feed.run(), name=f"feed-{organization_id}")
            self.feeds[organization_id] = feed
        feed.subscribers.add(subscriber)
        try:
            yield
        finally:
            feed.subscribers.discard(subscriber)
            if not feed.subscribers and self.feeds.get(organization_id) is feed:
                del self.feeds[organization_id]
                feed.close()
                if feed.task is not None:
                    self._closing.add(feed.task)
                    feed.task.add_done_callback(self._closing.discard)
