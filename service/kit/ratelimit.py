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

The buckets live in this process: with N replicas a caller may get N x the rate overall
(a shared store such as Redis would make it global; not needed at this scale).
"""

import hashlib
import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send


async def send_json_error(
    send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> None:
    body = orjson.dumps({"error": {"code": code, "message": message}})
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


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
                    await send_json_error(send, 400, "BAD_REQUEST", "Invalid Content-Length.")
                    return
                if declared > limit:
                    await send_json_error(send, 413, "PAYLOAD_TOO_LARGE", message)
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
            await send_json_error(send, 413, "PAYLOAD_TOO_LARGE", message)


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
    from a process-wide one) before the app runs; a token that turns out valid gives its
    unit back. A flood of made-up tokens runs dry after `burst` requests, before any key
    lookup, while tokens seen to work skip the check: a valid client behind the same
    address (NAT, proxy) keeps working. A token already in flight is charged once, however
    many requests carry it (a dashboard opening with a fresh key or token). The
    process-wide budget bounds what an attacker rotating addresses (an IPv6 /48 holds
    65,536 /64s) can cost.
    """

    GLOBAL_SCALE = 50  # the process-wide budget, in addresses' worth of failures
    EVERYONE = "*"

    def __init__(self, rate: float, burst: int, max_known: int = 100_000) -> None:
        self.buckets = LeakyBucket(rate, burst)
        self.everyone = LeakyBucket(rate * self.GLOBAL_SCALE, burst * self.GLOBAL_SCALE)
        self.max_known = max_known
        self._known_valid: OrderedDict[str, None] = OrderedDict()  # token hashes, LRU
        self._in_flight: dict[str, int] = {}  # unverified tokens charged, requests carrying

    def is_known_valid(self, token: str | None) -> bool:
        if token is None or token not in self._known_valid:
            return False
        self._known_valid.move_to_end(token)
        return True

    def admit(self, address: str, token: str | None) -> float:
        """0 when an unverified request from `address` may go (charged, unless its token is
        already in flight), else the seconds to wait."""
        if token is not None and token in self._in_flight:
            self._in_flight[token] += 1
            return 0.0
        wait = max(self.buckets.wait(network_of(address)), self.everyone.wait(self.EVERYONE))
        if wait > 0:
            return wait
        self.buckets.take(network_of(address))
        self.everyone.take(self.EVERYONE)
        if token is not None:
            self._in_flight[token] = 1
        return 0.0

    def verified(self, address: str, token: str) -> None:
        """The app verified `token`: remembered, and its charge given back (once)."""
        if self._in_flight.pop(token, 0):
            self.buckets.give_back(network_of(address))
            self.everyone.give_back(self.EVERYONE)
        self._remember(token)

    def settle(self, address: str, token: str | None, *, admitted: bool, refused: bool) -> None:
        """After the app. A known token now refused (revoked, expired) is forgotten and
        counts as a failure; an admitted one keeps its charge. A token that could not be
        checked (the database is down) changes nothing."""
        if token is not None and admitted and token in self._in_flight:
            self._in_flight[token] -= 1
            if self._in_flight[token] <= 0:
                del self._in_flight[token]
        if refused and token is not None and token in self._known_valid:
            self._known_valid.pop(token, None)
            self.buckets.take(network_of(address))
            self.everyone.take(self.EVERYONE)

    def _remember(self, token: str) -> None:
        self._known_valid[token] = None
        self._known_valid.move_to_end(token)
        if len(self._known_valid) > self.max_known:
            self._known_valid.popitem(last=False)


class RateLimit:
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
        self.buckets = LeakyBucket(rate, burst) if rate > 0 else None
        self.failures = (
            FailedAuthentications(failure_rate, failure_burst) if failure_rate > 0 else None
        )
        self.trusted_header = trusted_proxy_header.strip().lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.path_prefix):
            await self.app(scope, receive, send)
            return
        address = client_address(scope, self.trusted_header)
        token = token_hash(scope)
        if self.buckets is not None:
            # A bucket per key only for keys seen to work: made-up tokens cannot crowd the
            # real keys' buckets out of the table (they count against their address).
            known = token is not None and (
                self.failures is None or self.failures.is_known_valid(token)
            )
            wait = self.buckets.take(f"key:{token}" if known else f"addr:{address}")
            if wait > 0:
                await refuse(send, wait, "Too many requests for this key")
                return
        if self.failures is None:
            await self.app(scope, receive, send)
            return
        await self._guard_authentication(self.failures, scope, receive, send, address, token)

    async def _guard_authentication(
        self,
        failures: FailedAuthentications,
        scope: Scope,
        receive: Receive,
        send: Send,
        address: str,
        token: str | None,
    ) -> None:
        admitted = not failures.is_known_valid(token)
        if admitted:
            wait = failures.admit(address, token)
            if wait > 0:
                await refuse(send, wait, "Too many requests without a valid token from here")
                return
        status = 0

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if scope.get(AUTHENTICATED) and token is not None:
                    failures.verified(address, token)
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            if scope.get(AUTHENTICATED) and token is not None:
                failures.verified(address, token)
            failures.settle(address, token, admitted=admitted, refused=status == UNAUTHORIZED)


async def refuse(send: Send, wait: float, reason: str) -> None:
    retry_after = max(1, math.ceil(wait))
    await send_json_error(
        send,
        429,
        "RATE_LIMITED",
        f"{reason}; retry in {retry_after} s.",
        {"Retry-After": str(retry_after)},
    )
