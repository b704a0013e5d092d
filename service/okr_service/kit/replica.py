"""Reads on a streaming replica, with read-your-writes (README, "Scaling out").

A read-only GraphQL request goes to the replica only when the replica holds what its caller
may expect to see:
- the replica is reachable, in recovery, and at most `read_replica_max_lag_seconds` behind;
- the request's `Consistency-Token` (the primary's WAL position just after the caller's last
  write, given in that write's response) is at or below the position the replica replayed;
- without a token: the caller (API key, or user token subject) has not written through this
  process in the last `read_your_writes_seconds`.
Otherwise the primary serves it. One background task per process reads both positions every
`read_replica_poll_interval_seconds`; a request only compares numbers.

Lag is measured in WAL, not with `now() - pg_last_xact_replay_timestamp()`, which grows on
an idle primary although the replica has replayed everything: each poll remembers when the
primary was first seen at a position, and the lag is the age of the oldest position the
replica has not replayed yet (0 when it has replayed everything the primary had written).
"""

import asyncio
import logging
import math
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from okr_service.kit import metrics
from okr_service.kit.db import create_sessionmaker
from okr_service.kit.settings import Settings

logger = logging.getLogger(__name__)

CONSISTENCY_HEADER = "Consistency-Token"
# PostgreSQL's text form of a WAL position (pg_lsn): two hexadecimal 32-bit halves.
_LSN = re.compile(r"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})")
# The primary's position as a number. The write position: on an idle primary it equals the
# end of the last record, which is what the replica reports having replayed (the insert
# position may point past a page header and never be "reached"). A commit (synchronous
# commit, PostgreSQL's default) returns once its record is written, so the position read
# after it is at or past the commit.
PRIMARY_POSITION = text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
# The replica's replayed position; NULL from a server that is not a replica (any more).
REPLAYED_POSITION = text(
    "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() - '0/0'::pg_lsn END"
)
# Also for a request that meets a replica gone silent: give up connecting after this.
CONNECT_TIMEOUT_SECONDS = 2.0
# How long a write's answer waits for the position that becomes its token, at most.
WRITE_POSITION_TIMEOUT_SECONDS = 1.0
# Positions the replica has not replayed, one per poll: beyond that the lag is over any
# sensible maximum anyway, and the oldest position (the one that dates it) is kept.
MAX_PENDING_POSITIONS = 4096


class InvalidConsistencyToken(ValueError):
    """A `Consistency-Token` header that is not a WAL position this service hands out."""

    code = "INVALID_CONSISTENCY_TOKEN"

    def __init__(self) -> None:
        super().__init__(
            f"{CONSISTENCY_HEADER} must be a value from a mutation's response "
            "(a WAL position such as 0/16B3748), sent back as it came."
        )


def parse_lsn(value: str) -> int:
    """The position `value` (`hi/lo` in hexadecimal) as a number; InvalidConsistencyToken
    for anything else."""
    match = _LSN.fullmatch(value.strip())
    if match is None:
        raise InvalidConsistencyToken
    high, low = match.groups()
    return int(high, 16) << 32 | int(low, 16)


def format_lsn(position: int) -> str:
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


class Route(StrEnum):
    """Where a read goes, and why (the reads metric's `reason`: a bounded set)."""

    REPLICA = "replica"
    LAGGING = "lagging"  # further behind than the maximum
    UNAVAILABLE = "unavailable"  # unreachable, not in recovery, or not polled yet
    WRITE_NOT_REPLAYED = "write_not_replayed"  # the Consistency-Token: not replayed yet
    RECENT_WRITE = "recent_write"  # no token, and the caller wrote lately
    IDEMPOTENCY_KEY = "idempotency_key"  # the request claims its key: a write
    FELL_BACK = "fell_back"  # the replica failed, or did not know the caller's key yet

    @property
    def target(self) -> str:
        return "replica" if self is Route.REPLICA else "primary"

    def count_read(self) -> None:
        metrics.database_reads(self.target, self.value).inc()


async def position(engine: AsyncEngine, statement: Any) -> int | None:
    """One value read with the driver directly: one round trip (no BEGIN nor ROLLBACK)."""
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        try:
            found = await raw.driver_connection.fetchval(str(statement))  # type: ignore[union-attr]
        except BaseException:
            # SQLAlchemy did not see this statement fail: a dead connection must not go back
            # to the pool.
            await connection.invalidate()
            raise
    return None if found is None else int(found)


class RecentWriters:
    """The callers that wrote through this process in the last `window` seconds, oldest
    write first; at most `capacity` of them (the oldest beyond it are forgotten early)."""

    def __init__(
        self,
        window: float,
        capacity: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self.capacity = capacity
        self.clock = clock
        self._written_at: OrderedDict[str, float] = OrderedDict()

    def note(self, caller: str) -> None:
        if self.window <= 0:
            return
        self._written_at.pop(caller, None)
        self._written_at[caller] = self.clock()
        while len(self._written_at) > self.capacity:
            self._written_at.popitem(last=False)

    def wrote_lately(self, caller: str) -> bool:
        now = self.clock()
        while self._written_at:
            oldest, at = next(iter(self._written_at.items()))
            if now - at < self.window:
                break
            del self._written_at[oldest]
        return caller in self._written_at


class ReplicaMonitor:
    """What this process knows of the replica: the position it replayed and its lag, from
    the background poll."""

    def __init__(
        self,
        primary: AsyncEngine,
        replica: AsyncEngine,
        *,
        interval: float,
        max_lag: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary, self.replica = primary, replica
        self.interval, self.max_lag, self.clock = interval, max_lag, clock
        self.replayed: int | None = None  # None: not known to be a usable replica
        self.unusable_because = "not polled yet"
        self.lag = math.inf
        # (first seen at, position) of primary positions not replayed when last polled.
        self._pending: deque[tuple[float, int]] = deque()
        self._task: asyncio.Task[None] | None = None

    @property
    def timeout(self) -> float:
        return max(1.0, 5 * self.interval)

    def route(self, token: int | None) -> Route:
        """Where a read goes by the replica's state alone, and the caller's token."""
        if self.replayed is None:
            return Route.UNAVAILABLE
        if self.lag > self.max_lag:
            return Route.LAGGING
        if token is not None and token > self.replayed:
            return Route.WRITE_NOT_REPLAYED
        return Route.REPLICA

    async def start(self) -> None:
        await self.poll()
        if self.replayed is None:
            logger.warning(
                "Read replica not usable (%s): reads go to the primary until it is",
                self.unusable_because,
            )
        self._task = asyncio.create_task(self._run(), name="read-replica-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.poll()

    async def poll(self) -> None:
        """Read the primary's position, then the replica's (in that order: a replica that
        has caught up then shows a position at or past the primary's)."""
        try:
            primary = await asyncio.wait_for(position(self.primary, PRIMARY_POSITION), self.timeout)
        except Exception:
            # The primary down: no read is served anywhere meanwhile; keep what we knew.
            logger.debug("Primary position not read", exc_info=True)
            return
        try:
            replayed = await asyncio.wait_for(
                position(self.replica, REPLAYED_POSITION), self.timeout
            )
        except Exception as error:
            self.mark_unavailable(f"{type(error).__name__}: {error}")
            return
        if replayed is None or primary is None:
            self.mark_unavailable("the read URL's server is not in recovery (not a replica)")
            return
        self.observe(primary, replayed)

    def observe(self, primary: int, replayed: int) -> None:
        now = self.clock()
        if self.replayed is None:
            logger.info("Read replica available: reads go to it while it keeps up")
        self.replayed = replayed
        if len(self._pending) < MAX_PENDING_POSITIONS:
            self._pending.append((now, primary))
        while self._pending and self._pending[0][1] <= replayed:
            self._pending.popleft()
        self.lag = now - self._pending[0][0] if self._pending else 0.0
        metrics.READ_REPLICA_LAG.set(self.lag)

    def mark_unavailable(self, why: str) -> None:
        if self.replayed is not None:
            logger.warning("Read replica unavailable (%s): reads go to the primary", why)
        self.unusable_because = why
        self.replayed = None
        self.lag = math.inf
        self._pending.clear()
        metrics.READ_REPLICA_LAG.set(math.inf)


class ReadReplica:
    """A process's read replica: its sessions, its monitor, and where each read goes."""

    def __init__(self, primary: AsyncEngine, replica: AsyncEngine, settings: Settings) -> None:
        self.primary = primary
        self.engine = replica
        self.sessionmaker: async_sessionmaker[AsyncSession] = create_sessionmaker(replica)
        self.monitor = ReplicaMonitor(
            primary,
            replica,
            interval=settings.read_replica_poll_interval_seconds,
            max_lag=settings.read_replica_max_lag_seconds,
        )
        self.writers = RecentWriters(settings.read_your_writes_seconds)

    def route(self, caller: str, token: int | None) -> Route:
        """Where a read of `caller`, who sent `token` (or none), goes."""
        route = self.monitor.route(token)
        if route is Route.REPLICA and token is None and self.writers.wrote_lately(caller):
            return Route.RECENT_WRITE
        return route

    async def wrote(self, caller: str) -> str | None:
        """After `caller`'s write committed: its reads stay on the primary for the window,
        and the answer is the `Consistency-Token` for the write's response (the primary's
        position now, at or past the commit), or None when it could not be read."""
        self.writers.note(caller)
        try:
            # Bounded: the write's answer must not wait long for a free pooled connection.
            found = await asyncio.wait_for(
                position(self.primary, PRIMARY_POSITION), WRITE_POSITION_TIMEOUT_SECONDS
            )
        except Exception:
            # The write is committed: its answer stands, without a token.
            logger.warning("WAL position after a write not read", exc_info=True)
            return None
        return None if found is None else format_lsn(found)
