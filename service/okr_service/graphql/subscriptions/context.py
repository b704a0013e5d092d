"""The context of one WebSocket: who is connected (known once `connection_init` is
answered), and the per-process count of each caller's open subscriptions.

A WebSocket holds no database session: its subscriptions are fed by their organization's
feed (feed.py), whose reads are short transactions of their own, so an idle subscriber
holds no connection of the pool.
"""

from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from typing import Any

from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.websockets import WebSocket
from strawberry.fastapi import BaseContext

from okr_service.graphql.subscriptions.feed import SubscriptionFeeds
from okr_service.kit.principal import Principal
from okr_service.kit.settings import Settings

# Checks a bearer token as HTTP requests are checked; None when it is refused.
Authenticate = Callable[[str], Awaitable[Principal | None]]


class SubscriptionSlots:
    """How many subscriptions each caller has open in this process, bounded per caller."""

    def __init__(self, max_per_caller: int) -> None:
        self.max_per_caller = max_per_caller
        self.open: dict[Hashable, int] = {}  # only callers with a subscription open

    @asynccontextmanager
    async def taken(self, caller: Hashable) -> AsyncIterator[None]:
        if self.open.get(caller, 0) >= self.max_per_caller:
            raise GraphQLError(
                f"This key already has {self.max_per_caller} subscriptions open; complete "
                "one first.",
                extensions={"code": "TOO_MANY_SUBSCRIPTIONS", "max": self.max_per_caller},
            )
        self.open[caller] = self.open.get(caller, 0) + 1
        try:
            yield
        finally:
            remaining = self.open[caller] - 1
            if remaining:
                self.open[caller] = remaining
            else:
                del self.open[caller]


class SubscriptionContext(BaseContext):
    def __init__(
        self,
        websocket: WebSocket,
        *,
        authenticate: Authenticate,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        slots: SubscriptionSlots,
        feeds: SubscriptionFeeds,
    ) -> None:
        super().__init__()
        self.request = websocket  # QueryLimits reads the app's limits through it
        self.authenticate = authenticate
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.slots = slots
        self.feeds = feeds
        # Set by the protocol handler from `connection_init`'s payload.
        self.connection_params: dict[str, Any] = {}
        self.principal: Principal | None = None
        self.token: str | None = None  # kept to check it again while the socket is open

    async def sign_in(self, token: str) -> bool:
        """Authenticate the socket with `token` (its `connection_init`); whether it may."""
        self.principal = await self.authenticate(token)
        self.token = token if self.principal is not None else None
        return self.principal is not None

    async def still_signed_in(self) -> Principal:
        """The caller, checked again: a key revoked or a user token expired since the socket
        opened ends its subscriptions (UNAUTHENTICATED) at their next check."""
        principal = None if self.token is None else await self.authenticate(self.token)
        if principal is None:
            raise GraphQLError(
                "The token is no longer valid: connect again with a valid one.",
                extensions={"code": "UNAUTHENTICATED"},
            )
        self.principal = principal
        return principal

    @property
    def caller(self) -> Principal:
        """The authenticated caller; subscribing is refused before `connection_init`."""
        if self.principal is None:
            raise GraphQLError(
                "Authenticate in connection_init first.",
                extensions={"code": "UNAUTHENTICATED"},
            )
        return self.principal
