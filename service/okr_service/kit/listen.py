"""LISTEN on a PostgreSQL channel for as long as a process runs, reconnecting after failures.

A notification is only heard while the connection is up, so `on_listening` runs each time
LISTEN starts (again): the caller catches up there on whatever it may have missed.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from okr_service.kit.db import live_connection

logger = logging.getLogger(__name__)


async def listen(
    engine: AsyncEngine,
    channel: str,
    on_notify: Callable[[str], None],
    stopping: asyncio.Event,
    *,
    on_listening: Callable[[], None] = lambda: None,
    retry_seconds: float = 5.0,
) -> None:
    """Call `on_notify(payload)` for each notification on `channel` until `stopping` is set;
    a lost or refused connection is logged and retried after `retry_seconds`."""

    def notified(_connection: object, _pid: int, _channel: str, payload: str) -> None:
        on_notify(payload)

    while not stopping.is_set():
        try:
            async with live_connection(engine) as connection:
                driver: Any = (await connection.get_raw_connection()).driver_connection
                lost = asyncio.Event()
                driver.add_termination_listener(lambda _, lost=lost: lost.set())
                await driver.add_listener(channel, notified)
                on_listening()
                await first_of(stopping.wait(), lost.wait())
                if not driver.is_closed():
                    await driver.remove_listener(channel, notified)
        except Exception:
            logger.warning("LISTEN %s failed; retrying", channel, exc_info=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=retry_seconds)


async def first_of(*waits: Awaitable[Any]) -> None:
    """Wait until the first of `waits` is done; cancel the others."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
