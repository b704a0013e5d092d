"""Revocations pushed to every process, so a revoked key stops working everywhere at once.

Each process caches recently verified keys (`PrincipalCache`) so a busy client costs no
query. The transaction that revokes a key (or changes its expiry) sends a NOTIFY carrying
the key's hash; PostgreSQL delivers it when that transaction commits, and never if it rolls
back. Every API process LISTENs on one connection of its own and forgets the key. Nothing
is heard while that connection is down, so the cache is emptied each time LISTEN starts;
the cache's TTL bounds the gap until then.
"""

import asyncio
import logging

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from okr_service.auth.service import PrincipalCache
from okr_service.kit.db import create_engine, direct_url
from okr_service.kit.listen import listen
from okr_service.kit.settings import Settings

logger = logging.getLogger(__name__)

CHANNEL = "okr_api_key_changes"
RECONNECT_SECONDS = 1.0  # a lost connection is a window for stale keys: retry soon


async def announce_key_change(db: AsyncSession, key_hash: str) -> None:
    """Make every process forget `key_hash` once `db`'s transaction commits. Call it from
    any transaction that revokes a key or changes its expiry."""
    await db.execute(select(func.pg_notify(CHANNEL, key_hash)))


class RevocationListener:
    """Drops announced keys from this process's cache, for as long as the app runs."""

    def __init__(self, database_url: str, settings: Settings, cache: PrincipalCache) -> None:
        self.database_url = database_url
        self.settings = settings
        self.cache = cache
        self.listening = asyncio.Event()  # set once LISTEN first runs (tests wait on it)
        self._stopping = asyncio.Event()
        self._engine: AsyncEngine | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # Its own engine: the listening connection is never one of the requests' pool. A
        # transaction pooler cannot hold a LISTEN: it goes to PostgreSQL itself.
        self._engine = create_engine(
            direct_url(self.settings, self.database_url), self.settings, direct=True
        )
        self._task = asyncio.create_task(
            listen(
                self._engine,
                CHANNEL,
                self.cache.forget,
                self._stopping,
                on_listening=self._caught_up,
                retry_seconds=RECONNECT_SECONDS,
            ),
            name="api-key-revocations",
        )

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            _, stuck = await asyncio.wait({self._task}, timeout=5)
            for task in stuck:
                task.cancel()
        if self._engine is not None:
            await self._engine.dispose()

    def _caught_up(self) -> None:
        # Revocations made while not listening went unheard: trust no cached key from then.
        self.cache.clear()
        self.listening.set()
        logger.info("listening for API key revocations")
