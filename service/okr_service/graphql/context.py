"""The per-request context: one session, the caller, and that request's DataLoaders."""

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeAlias, TypeVar
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext
from strawberry.types import Info as StrawberryInfo

from okr_service.kit.clock import Clock
from okr_service.kit.principal import Principal
from okr_service.kit.settings import Settings

V = TypeVar("V")

BatchLoad: TypeAlias = Callable[[AsyncSession, UUID, list[Any]], Awaitable[dict[Any, Any]]]


class Context(BaseContext):
    def __init__(
        self, db: AsyncSession, principal: Principal, *, settings: Settings, clock: Clock
    ) -> None:
        super().__init__()
        self.db = db
        self.principal = principal
        self.settings = settings
        # Every figure of one response is of one moment; a write that must order itself
        # after others (a check-in) reads the clock again once it holds its lock.
        self.clock = clock
        self.now = clock.now()
        # Loaders of one request dispatch concurrently; an AsyncSession is not safe to use
        # concurrently, so their statements take turns on the request's one connection.
        self.db_lock = asyncio.Lock()
        self._loaders: dict[Hashable, DataLoader[Any, Any]] = {}
        # Values several fields derive from the same rows (an objective's key results, its
        # cycle's dates), computed once per request.
        self.memo: dict[Hashable, Any] = {}
        # Set when a mutation reported user errors: the request's transaction rolls back.
        self.rollback_only = False
        # The request's Idempotency-Key, claimed in its transaction; its answer is kept.
        self.idempotency_key: str | None = None
        # With a read replica: called once a mutation committed, for the Consistency-Token
        # its response carries (okr_service/kit/replica.py); None without one.
        self.after_write: Callable[[], Awaitable[str | None]] | None = None

    async def memoized(self, key: Hashable, compute: Callable[[], Awaitable[V]]) -> V:
        """`compute()` once per request for `key` (a value several fields derive alike)."""
        if key not in self.memo:
            self.memo[key] = await compute()
        found: V = self.memo[key]
        return found

    def forget_reads(self) -> None:
        """Drop what this request has read: a mutation is about to change it."""
        self._loaders.clear()
        self.memo.clear()

    def loader(
        self, batch: BatchLoad, *, default: Any = None, name: Hashable | None = None
    ) -> DataLoader[Any, Any]:
        """The request's DataLoader for `batch`: keys -> one statement -> values by key.

        `batch(db, organization_id, keys)` returns a mapping; missing keys get `default`
        (None, or a fresh empty list when `default` is `list`).
        """
        key = name or batch
        found = self._loaders.get(key)
        if found is None:
            found = DataLoader(load_fn=self._batched(batch, default))
            self._loaders[key] = found
        return found

    def _batched(
        self, batch: BatchLoad, default: Any
    ) -> Callable[[list[Any]], Awaitable[Sequence[Any]]]:
        async def load(keys: list[Any]) -> list[Any]:
            async with self.db_lock:
                found = await batch(self.db, self.principal.organization_id, keys)
            if default is list:
                return [found.get(key) or [] for key in keys]
            return [found.get(key, default) for key in keys]

        return load

    async def run(self, statement: Callable[[AsyncSession], Awaitable[V]]) -> V:
        """Run a non-batched statement, taking its turn with the loaders."""
        async with self.db_lock:
            return await statement(self.db)


Info: TypeAlias = StrawberryInfo[Context, None]
