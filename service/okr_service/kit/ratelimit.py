"""Request guards in front of the application (pure ASGI): body size and per-key rate limit.

- `BodySizeLimit`: a body above `max_body_bytes` is refused with 413 PAYLOAD_TOO_LARGE,
  from `Content-Length` before reading anything, or as soon as a streamed body passes it.
- `RateLimit`: a leaky bucket per caller on /graphql, answered 429 RATE_LIMITED with
  `Retry-After`. The caller is the SHA-256 of its bearer token (API key or JWT; the
  secret itself is never kept) or, without one, its client address. Checked before the
  key is verified, so a flood of requests costs no database work.
- `FailedAuthentications` (inside `RateLimit`): a bucket per client address (an IPv6 /64
  counts as one) for requests without a token known to be valid, so made-up tokens (each a
  fresh per-token bucket above) cannot flood the key lookup. The address is the TCP peer's,
  or the one a trusted proxy header names when a setting says which.

Where the buckets live (`BucketStore`): without `OKR_REDIS_URL`, in each process
(`LocalBuckets`), so N processes give a caller N x each rate overall; with it, in Redis
(okr_service/kit/redis_buckets.py), one bucket per caller for every replica and worker, each
check one atomic round trip, falling back to the process's own buckets while Redis fails.
Which tokens are known to be valid stays per process: a valid key's first request to a
process is counted in its address's buckets (the failed-authentication unit is given back
once the key is verified).
"""

import hashlib
import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from okr_service.kit.problems import send_error


class _BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        message = f"The request body is larger than {limit} bytes."
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await send_error(scope, send, 400, "BAD_REQUEST", "Invalid Content-Length.")
                    return
                if declared > limit:
                    await send_error(scope, send, 413, "PAYLOAD_TOO_LARGE", message)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return event

        async def tracking_send(event: Message) -> None:
            nonlocal started
            if event["type"] == "http.response.start":
                started = True
            await send(event)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if started:
                raise
            await send_error(scope, send, 413, "PAYLOAD_TOO_LARGE", message)


class LeakyBucket:
    """Per-key leaky buckets: each request pours one unit in, `rate` units leak per second,
    and a request that would overflow `burst` is refused with the wait until it fits.

    At most `max_keys` buckets are kept (least recently used dropped first): a dropped
    bucket is one that had leaked empty, unless the process sees that many callers at once.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # level, at

    def take(self, key: str) -> float:
        """0 when the request may go, else the seconds to wait before retrying."""
        now = self.clock()
        level, at = self._buckets.pop(key, (0.0, now))
        level = max(0.0, level - (now - at) * self.rate)
        if level + 1 > self.burst:
            self._buckets[key] = (level, now)
            return (level + 1 - self.burst) / self.rate
        self._buckets[key] = (level + 1, now)
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return 0.0

    def wait(self, key: str) -> float:
        """What `take` would answer, without pouring anything in."""
        now = self.clock()
        level, at = self._buckets.get(key, (0.0, now))
        level = max(0.0, level - (now - at) * self.rate)
        return 0.0 if level + 1 <= self.burst else (level + 1 - self.burst) / self.rate

    def give_back(self, key: str) -> None:
        """Undo one `take` that was let through: the request turned out not to count."""
        if key not in self._buckets:
            return
        now = self.clock()
        level, at = self._buckets[key]
        self._buckets[key] = (max(0.0, level - (now - at) * self.rate - 1), now)


@dataclass(frozen=True)
class Limit:
    """A family of leaky buckets, one per identity: `rate` units leak per second, `burst` fit."""

    name: str  # short and fixed: part of every shared bucket's key
    rate: float
    burst: int


Charge = tuple[Limit, str]  # one unit for the bucket of this limit and identity


class BucketStore(Protocol):
    """Where the buckets live: this process (`LocalBuckets`) or Redis, for every process."""

    async def take(self, charges: Sequence[Charge]) -> float:
        """0 when every bucket named has room for one more unit, each then taking it; else
        the seconds to wait until they all have, none taking anything."""
        ...

    async def give_back(self, charges: Sequence[Charge]) -> None:
        """Undo one `take` that was let through: the request turned out not to count."""
        ...


class LocalBuckets:
    """The buckets in this process: with N processes, N x each limit overall."""

    def __init__(self) -> None:
        self._families: dict[Limit, LeakyBucket] = {}

    def family(self, limit: Limit) -> LeakyBucket:
        buckets = self._families.get(limit)
        if buckets is None:
            buckets = self._families[limit] = LeakyBucket(limit.rate, limit.burst)
        return buckets

    def take_now(self, charges: Sequence[Charge]) -> float:
        wait = max(self.family(limit).wait(identity) for limit, identity in charges)
        if wait > 0:
            return wait
        for limit, identity in charges:
            self.family(limit).take(identity)
        return 0.0

    def give_back_now(self, charges: Sequence[Charge]) -> None:
        for limit, identity in charges:
            self.family(limit).give_back(identity)

    async def take(self, charges: Sequence[Charge]) -> float:
        return self.take_now(charges)

    async def give_back(self, charges: Sequence[Charge]) -> None:
        self.give_back_now(charges)


AUTHENTICATED = "okr.authenticated"  # scope key: the app verified this request's token
UNAUTHORIZED = 401


def mark_authenticated(scope: Scope) -> None:
    """Called by the application once it has verified the request's token."""
    scope[AUTHENTICATED] = True


def token_hash(scope: Scope) -> str | None:
    """The SHA-256 of the request's bearer token (the secret itself is never kept)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return hashlib.sha256(token.strip()).hexdigest()
    return None


def client_address(scope: Scope, trusted_header: bytes = b"") -> str:
    """The TCP peer's address, or the last one in `trusted_header`: the address the trusted
    proxy itself saw (earlier ones are whatever the client wrote)."""
    forwarded = b""
    if trusted_header:
        for name, value in scope["headers"]:
            if name == trusted_header:
                forwarded = value  # a repeated header: the proxy's is the last
    last = forwarded.decode("latin-1").rsplit(",", 1)[-1].strip()
    if last:
        return last
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def network_of(address: str) -> str:
    """One bucket per IPv6 /64: a single host is commonly given a whole /64 to pick from."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


class FailedAuthentications:
    """Per client address, a request whose token is not known to be valid (none, or one
    not yet seen to authenticate) takes a unit from the address's bucket (and, scaled up,
    from one shared by every address) before the app runs; a token that turns out valid
    gives its unit back. A flood of made-up tokens runs dry after `burst` requests, before
    any key lookup, while tokens seen to work skip the check: a valid client behind the
    same address (NAT, proxy) keeps working. A token already in flight is charged once,
    however many requests carry it (a dashboard opening with a fresh key or token). The
    budget of every address together bounds what an attacker rotating addresses (an IPv6
    /48 holds 65,536 /64s) can cost.

    The buckets live in a `BucketStore` (this process's, or Redis'); which tokens are known
    to be valid, and which are in flight, each process knows for itself.
    """

    GLOBAL_SCALE = 50  # the budget of every address together, in addresses' worth of failures
    EVERYONE = "*"

    def __init__(self, rate: float, burst: int, max_known: int = 100_000) -> None:
        self.per_address = Limit("failed-auth", rate, burst)
        self.everyone = Limit(
            "failed-auth-all", rate * self.GLOBAL_SCALE, burst * self.GLOBAL_SCALE
        )
        self.max_known = max_known
        self._known_valid: OrderedDict[str, None] = OrderedDict()  # token hashes, LRU
        self._in_flight: dict[str, _InFlight] = {}  # unverified tokens admitted

    def is_known_valid(self, token: str | None) -> bool:
        if token is None or token not in self._known_valid:
            return False
        self._known_valid.move_to_end(token)
        return True

    def charges(self, address: str) -> tuple[Charge, Charge]:
        return (self.per_address, network_of(address)), (self.everyone, self.EVERYONE)

    async def admit(self, store: BucketStore, address: str, token: str | None) -> float:
        """0 when an unverified request from `address` may go (charged, unless its token is
        already in flight), else the seconds to wait."""
        if token is not None and (entry := self._in_flight.get(token)) is not None:
            entry.requests += 1
            return 0.0
        wait = await store.take(self.charges(address))
        if wait > 0 or token is None:
            return wait
        # Another request with this token may have been admitted while the store answered:
        # both charges are given back once the token is verified.
        entry = self._in_flight.setdefault(token, _InFlight())
        entry.requests += 1
        entry.charges += 1
        return 0.0

    async def verified(self, store: BucketStore, address: str, token: str) -> None:
        """The app verified `token`: remembered, and its charges given back (once)."""
        entry = self._in_flight.pop(token, None)
        for _ in range(entry.charges if entry is not None else 0):
            await store.give_back(self.charges(address))
        self._remember(token)

    async def settle(
        self,
        store: BucketStore,
        address: str,
        token: str | None,
        *,
        admitted: bool,
        refused: bool,
    ) -> None:
        """After the app. A known token now refused (revoked, expired) is forgotten and
        counts as a failure; an admitted one keeps its charge. A token that could not be
        checked (the database is down) changes nothing."""
        entry = self._in_flight.get(token) if token is not None and admitted else None
        if token is not None and entry is not None:
            entry.requests -= 1
            if entry.requests <= 0:
                del self._in_flight[token]
        if refused and token is not None and token in self._known_valid:
            self._known_valid.pop(token, None)
            for charge in self.charges(address):  # each bucket on its own, full or not
                await store.take((charge,))

    def _remember(self, token: str) -> None:
        self._known_valid[token] = None
        self._known_valid.move_to_end(token)
        if len(self._known_valid) > self.max_known:
            self._known_valid.popitem(last=False)


@dataclass
class _InFlight:
    requests: int = 0  # requests carrying the token, admitted and not yet answered
    charges: int = 0  # units taken for them, given back when the token is verified


class RateLimit:
    """The guard on /graphql. Its buckets live in the app's `rate_limit_store` (set at
    start-up: Redis, shared by every process) or, without one, in this process."""

    def __init__(
        self,
        app: ASGIApp,
        rate: float,
        burst: int,
        path_prefix: str = "/graphql",
        *,
        failure_rate: float = 0,
        failure_burst: int = 1,
        trusted_proxy_header: str = "",
    ) -> None:
        self.app = app
        self.path_prefix = path_prefix
        self.per_caller = Limit("caller", rate, burst) if rate > 0 else None
        self.failures = (
            FailedAuthentications(failure_rate, failure_burst) if failure_rate > 0 else None
        )
        self.trusted_header = trusted_proxy_header.strip().lower().encode("latin-1")
        self.local = LocalBuckets()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.path_prefix):
            await self.app(scope, receive, send)
            return
        shared: BucketStore | None = scope["app"].state.rate_limit_store
        store = self.local if shared is None else shared
        address = client_address(scope, self.trusted_header)
        token = token_hash(scope)
        if self.per_caller is not None:
            # A bucket per key only for keys seen to work: made-up tokens cannot crowd the
            # real keys' buckets out of the table (they count against their address).
            known = token is not None and (
                self.failures is None or self.failures.is_known_valid(token)
            )
            caller = f"key:{token}" if known else f"addr:{address}"
            wait = await store.take(((self.per_caller, caller),))
            if wait > 0:
                await refuse(scope, send, wait, "Too many requests for this key")
                return
        if self.failures is None:
            await self.app(scope, receive, send)
            return
        await self._guard_authentication(self.failures, store, scope, receive, send, address, token)

    async def _guard_authentication(
        self,
        failures: FailedAuthentications,
        store: BucketStore,
        scope: Scope,
        receive: Receive,
        send: Send,
        address: str,
        token: str | None,
    ) -> None:
        admitted = not failures.is_known_valid(token)
        if admitted:
            wait = await failures.admit(store, address, token)
            if wait > 0:
                reason = "Too many requests without a valid token from here"
                await refuse(scope, send, wait, reason)
                return
        status = 0

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if scope.get(AUTHENTICATED) and token is not None:
                    await failures.verified(store, address, token)
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            if scope.get(AUTHENTICATED) and token is not None:
                await failures.verified(store, address, token)
            await failures.settle(
                store, address, token, admitted=admitted, refused=status == UNAUTHORIZED
            )


async def refuse(scope: Scope, send: Send, wait: float, reason: str) -> None:
    retry_after = max(1, math.ceil(wait))
    await send_error(
        scope,
        send,
        429,
        "RATE_LIMITED",
        f"{reason}; retry in {retry_after} s.",
        {"Retry-After": str(retry_after)},
    )
