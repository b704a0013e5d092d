"""The organization feeds behind subscriptions: woken by NOTIFY at commit, one read per
organization for all its subscribers, a fallback poll for a lost notification, and a slow
subscriber cut off without holding up the others."""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager, contextmanager
from typing import Any
from uuid import UUID

import pytest
from graphql import GraphQLError
from sqlalchemy import event

from okr_service.graphql.subscriptions.feed import (
    TOO_SLOW,
    Subscriber,
    SubscriptionFeeds,
    id_floor,
)
from okr_service.kit.db import create_engine, create_sessionmaker
from okr_service.kit.ids import global_id
from okr_service.kit.principal import Principal, Scope
from okr_service.kit.settings import Settings
from tests import factories
from tests.conftest import Api, StatementCounter

LONG_POLL = 60.0  # seconds: no fallback read happens while a test runs
ENOUGH = 10.0  # a bound on a test that would otherwise hang, never a measure
EVENT_READ = "FROM events"


@asynccontextmanager
async def running_feeds(
    database_url: str, **overrides: Any
) -> AsyncIterator[tuple[SubscriptionFeeds, StatementCounter]]:
    """Feeds of their own (a process's), listening, and every statement their reads send."""
    settings = Settings(database_url=None, **overrides)
    engine = create_engine(database_url, settings)
    counter = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter.sqlalchemy)
    feeds = SubscriptionFeeds(database_url, settings, create_sessionmaker(engine))
    async with AsyncExitStack() as stack:
        stack.push_async_callback(engine.dispose)
        await feeds.start()
        stack.push_async_callback(feeds.stop)
        async with asyncio.timeout(ENOUGH):
            await feeds.listening.wait()
        yield feeds, counter


def admin_of(organization_id: UUID) -> Principal:
    return Principal(organization_id, frozenset(Scope), "feed-test", "feed test")


def subscriber(organization_id: UUID, capacity: int = 100) -> Subscriber:
    return Subscriber(
        admin_of(organization_id),
        start=id_floor(time.time()),
        types=(),
        subject_id=None,
        capacity=capacity,
    )


@contextmanager
def joined(feeds: SubscriptionFeeds, *subscribers: Subscriber) -> Iterator[None]:
    with ExitStack() as stack:
        for each in subscribers:
            stack.enter_context(feeds.joined(each))
        yield


def subject_of(row: Any) -> str:
    return global_id(row.subject_type, row.subject_id)


def event_reads(counter: StatementCounter) -> list[str]:
    return [statement for statement in counter.statements if EVENT_READ in statement]


async def test_subscribers_of_one_organization_share_one_read_woken_at_commit(
    database_url: str, api: Api, other_api: Api
) -> None:
    async with running_feeds(database_url, subscription_poll_interval_seconds=LONG_POLL) as (
        feeds,
        counter,
    ):
        first, second = subscriber(api.organization_id), subscriber(api.organization_id)
        elsewhere = subscriber(other_api.organization_id)
        with joined(feeds, first, second, elsewhere):
            started = time.monotonic()
            team = await factories.team(api, "Woken by NOTIFY")
            got = await asyncio.gather(first.next(ENOUGH), second.next(ENOUGH))
            elapsed = time.monotonic() - started
            assert await elsewhere.next(0.3) is None  # not woken: not its organization
            reads = event_reads(counter)
    print(f"\nevent seen by two subscribers {elapsed * 1000:.0f} ms after the request began")
    assert [row.type for row in got] == ["team.created", "team.created"]
    assert got[0] is got[1]  # the same row, read once
    assert elapsed < 2.0  # well under the 60 s poll: woken by the commit's NOTIFY
    assert len(reads) == 1, reads  # one read for both; none for the other organization
    assert subject_of(got[0]) == team


async def test_an_organization_feed_reads_nothing_of_another(
    database_url: str, api: Api, other_api: Api
) -> None:
    async with running_feeds(database_url, subscription_poll_interval_seconds=LONG_POLL) as (
        feeds,
        counter,
    ):
        mine = subscriber(other_api.organization_id)
        with joined(feeds, mine):
            await factories.team(api, "Not for the other organization")
            feeds.feeds[other_api.organization_id].wake()  # as a NOTIFY of its own would
            assert await mine.next(0.5) is None
            assert len(event_reads(counter)) == 1  # it read, and found nothing of it
            own = await factories.team(other_api, "Its own")
            row = await mine.next(ENOUGH)
    assert row is not None
    assert subject_of(row) == own


async def test_a_lost_notification_is_caught_by_the_fallback_poll(
    database_url: str, api: Api
) -> None:
    async with running_feeds(database_url, subscription_poll_interval_seconds=0.5) as (feeds, _):
        listening = subscriber(api.organization_id)
        with joined(feeds, listening):
            feed = feeds.feeds[api.organization_id]
            feed.wake = lambda: None  # type: ignore[method-assign]  # every NOTIFY lost
            started = time.monotonic()
            team = await factories.team(api, "Announced, never heard")
            row = await listening.next(ENOUGH)
            elapsed = time.monotonic() - started
    assert row is not None
    assert subject_of(row) == team
    assert elapsed < 3.0


async def test_a_slow_subscriber_is_cut_off_and_the_others_go_on(
    database_url: str, api: Api
) -> None:
    async with running_feeds(database_url, subscription_poll_interval_seconds=LONG_POLL) as (
        feeds,
        _,
    ):
        slow = subscriber(api.organization_id, capacity=3)
        fast = subscriber(api.organization_id, capacity=100)
        with joined(feeds, slow, fast):
            teams = [await factories.team(api, f"Team {number}") for number in range(5)]
            received = []
            async with asyncio.timeout(ENOUGH):
                while len(received) < len(teams):
                    row = await fast.next(ENOUGH)
                    if row is not None:
                        received.append(subject_of(row))
            assert slow not in feeds.feeds[api.organization_id].subscribers
            with pytest.raises(GraphQLError) as ended:
                await slow.next(ENOUGH)
    assert received == teams  # in order, none held up by the slow one
    assert ended.value.extensions == {"code": TOO_SLOW, "max": 3}
