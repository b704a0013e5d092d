"""The health sweep: time moves health without anybody writing.

Expected progress advances every day, so a key result nobody checks in on slides from on
track to off track on its own, and an objective rolling up others moves when they do. The
stored health is what events last told consumers; every `interval` the sweep derives the
health of each key result and objective of the cycles not yet closed and, where the two
differ, stores the new one and records `*.health_changed` (actor: system), exactly as a
check-in that moved it would. Readers never wait for it: they derive health themselves.

Any number of workers may run it: a sweep holds a transaction-level advisory lock, so
one runs at a time and the next finds nothing left to announce.
"""

import asyncio
import contextlib
import logging
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.key_results import service as key_results
from service.kit.clock import Clock
from service.kit.db import transaction
from service.kit.principal import Principal
from service.kit.repository import try_lock
from service.objectives import service as objectives
from service.organizations.service import system_principal

logger = logging.getLogger(__name__)

SWEEP_LOCK = "health-sweep"
SWEEPER_NAME = "health sweep"


async def sweep_health(db: AsyncSession, now: datetime) -> int:
    """One sweep at `now`; the number of health changes it announced (0 when another
    sweep holds the lock)."""
    if not await try_lock(db, SWEEP_LOCK):
        return 0

    announced = await key_results.sweep_health(db, now, sweeper)
    # Key results first: an objective's health reads theirs.
    return announced + await objectives.sweep_health(db, now, sweeper)


def sweeper(organization_id: UUID) -> Principal:
    """The actor of the sweep's events in one organization."""
    return system_principal(organization_id, SWEEPER_NAME)


class HealthSweeper:
    """Runs `sweep_health` every `interval` seconds until stopped."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, interval: float
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.interval = interval
        self.stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="health-sweep")
        logger.info("health sweep started (every %s s)", self.interval)

    async def stop(self) -> None:
        self.stopping.set()
        if self._task is not None:
            await self._task

    async def sweep_once(self) -> int:
        async with transaction(self.sessionmaker) as db:
            return await sweep_health(db, self.clock.now())

    async def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                announced = await self.sweep_once()
                if announced:
                    logger.info("health sweep announced %d changes", announced)
            except Exception:
                logger.exception("health sweep failed; trying again next interval")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=self.interval)
