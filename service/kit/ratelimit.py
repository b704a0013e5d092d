"""Request guards in front of the application (pure ASGI): body size and per-key rate limit.

- `BodySizeLimit`: a body above `max_body_bytes` is refused with 413 PAYLOAD_TOO_LARGE,
  from `Content-Length` before reading anything, or as soon as a streamed body passes it.
- `RateLimit`: a leaky bucket per caller on /graphql, answered 429 RATE_LIMITED with
  `Retry-After`. The caller is the SHA-256 of its bearer token (API key or JWT; the
  secret itself is never kept) or, without one, its client address. Checked before the
  key is verified, so a flood of requests costs no database work.

The buckets live in this process: with N replicas a caller may get N x the rate overall
(a shared store such as Redis would make it global; not needed at this scale).
"""

import hashlib
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


def caller_key(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return "key:" + hashlib.sha256(token.strip()).hexdigest()
    client = scope.get("client")
    return f"addr:{client[0] if client else 'unknown'}"


class RateLimit:
    def __init__(
        self, app: ASGIApp, rate: float, burst: int, path_prefix: str = "/graphql"
    ) -> None:
        self.app = app
        self.path_prefix = path_prefix
        self.buckets = LeakyBucket(rate, burst) if rate > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.buckets is not None
            and scope["type"] == "http"
            and scope["path"].startswith(self.path_prefix)
        ):
            wait = self.buckets.take(caller_key(scope))
            if wait > 0:
                retry_after = max(1, math.ceil(wait))
                await send_json_error(
                    send,
                    429,
                    "RATE_LIMITED",
                    f"Too many requests for this key; retry in {retry_after} s.",
                    {"Retry-After": str(retry_after)},
                )
                return
        await self.app(scope, receive, send)
