"""The health sweep: time moves health without anybody writing.

Expected progress advances every day, so a key result nobody checks in on slides from on
track to off track on its own, and an objective rolling up others moves when they do. The
stored health is what events last told consumers; every `interval` the sweep derives the
health of each key result and objective of the cycles not yet closed and, where the two
differ, stores the new one and records `*.health_changed` (actor: system), exactly as a
check-in that moved it would. Readers never wait for it: they derive health themselves.
The same pass records a `key_result.check_in_due` for each whole check-in period (the
cadence) a key result of an active cycle has gone without a check-in, once per period.

Any number of workers may run it: each organization is swept in a transaction of its own
under an advisory lock, so one sweep at a time handles it and the next finds nothing
left to announce.
"""

import asyncio
import contextlib
import logging
import random
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from okr_service.cycles import service as cycles
from okr_service.key_results import service as key_results
from okr_service.kit import metrics
from okr_service.kit.clock import Clock
from okr_service.kit.db import transaction
from okr_service.kit.principal import Principal
from okr_service.kit.repository import try_lock
from okr_service.objectives import service as objectives
from okr_service.organizations.service import system_principal

logger = logging.getLogger(__name__)

SWEEP_LOCK = "health-sweep"
DEFAULT_CHECK_IN_CADENCE = timedelta(days=7)  # the guides' weekly check-in
SWEEPER_NAME = "health sweep"


async def sweep_organization(
    db: AsyncSession,
    organization_id: UUID,
    now: datetime,
    check_in_cadence: timedelta = DEFAULT_CHECK_IN_CADENCE,
) -> int:
    """One organization's sweep at `now`, in its own transaction; the number of health
    changes it announced (0 when another sweep of it holds its lock). Check-in reminders
    due by then are recorded too (not counted)."""
    if not await try_lock(db, f"{SWEEP_LOCK}:{organization_id}"):
        return 0
    actor = sweeper(organization_id)
    announced = await key_results.sweep_health(db, actor, now)
    announced += await objectives.sweep_health(db, actor, now)
    await key_results.remind_check_ins(db, actor, now, check_in_cadence)
    return announced


def sweeper(organization_id: UUID) -> Principal:
    """The actor of the sweep's events in one organization."""
    return system_principal(organization_id, SWEEPER_NAME)


class HealthSweeper:
    """Runs `sweep_health` every `interval` seconds until stopped."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        interval: float,
        check_in_cadence: timedelta = DEFAULT_CHECK_IN_CADENCE,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.interval = interval
        self.check_in_cadence = check_in_cadence
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
        """Every organization with an open cycle, each in a transaction of its own (one
        failing organization holds up no other, and no lock is held across them)."""
        now = self.clock.now()
        with metrics.HEALTH_SWEEP_DURATION.time():
            async with transaction(self.sessionmaker) as db:
                organizations = await cycles.organizations_with_open_cycles(db)
            announced = 0
            for organization_id in organizations:
                try:
                    async with transaction(self.sessionmaker) as db:
                        announced += await sweep_organization(
                            db, organization_id, now, self.check_in_cadence
                        )
                except Exception:
                    logger.exception("health sweep of organization %s failed", organization_id)
        metrics.HEALTH_SWEEP_CHANGES.inc(announced)
        return announced

    async def _run(self) -> None:
        # The first sweep waits a random part of the interval: replicas started together
        # spread their sweeps, and a start-up is not slowed by one.
        wait = self.interval * random.random()  # noqa: S311 - not crypto
        while not await self._stopped_within(wait):
            try:
                announced = await self.sweep_once()
                if announced:
                    logger.info("health sweep announced %d changes", announced)
            except Exception:
                logger.exception("health sweep failed; trying again next interval")
            wait = self.interval

    async def _stopped_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        return self.stopping.is_set()
