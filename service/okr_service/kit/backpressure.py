"""Request guards against callers that hold the service's resources (pure ASGI).

- `BodyReadDeadline`: the whole request body is read before the application sees the
  request, within `timeout` seconds, else 408 REQUEST_TIMEOUT and the connection is closed.
  The route therefore takes its database connection only once the body is in memory: a
  client trickling its upload one byte a second holds a socket and a coroutine, never a
  connection or a transaction. (Its size is bounded by `BodySizeLimit`, which wraps it.)
- `InFlightLimit`: at most `max_per_key` requests of one caller in flight at once on
  /graphql, upload included; more are answered 429 TOO_MANY_CONCURRENT_REQUESTS with
  `Retry-After`. The caller is its bearer token (by SHA-256, as `RateLimit` counts it), so
  one tenant cannot take every pooled connection however slowly its requests go. Requests
  without a token are refused before any database work, so they are not counted here.
  Counted per process, like the pool it protects.
"""

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from okr_service.kit.problems import send_error
from okr_service.kit.ratelimit import token_hash

# Time earned by what has arrived: an upload keeping up this pace is never cut off,
# whatever its size (a slow but honest mobile client), while a trickle earns nothing.
MIN_UPLOAD_BYTES_PER_SECOND = 16_384


class BodyReadDeadline:
    def __init__(self, app: ASGIApp, timeout: float, path_prefix: str = "/graphql") -> None:
        self.app = app
        self.timeout = timeout
        self.path_prefix = path_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.path_prefix):
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive, self.timeout)
        except TimeoutError:
            await send_error(
                scope,
                send,
                408,
                "REQUEST_TIMEOUT",
                f"The request body did not arrive in time ({self.timeout:g} s, plus 1 s per "
                f"{MIN_UPLOAD_BYTES_PER_SECOND // 1024} KiB received).",
                # The rest of a late body may still be on its way: never parse it as the
                # next request.
                {"Connection": "close"},
            )
            return
        if body is None:
            return  # the client left mid-upload: nobody to answer
        await self.app(scope, replay(body, receive), send)


async def read_body(receive: Receive, allowed_seconds: float) -> bytes | None:
    """The whole body, or None if the client disconnects first; TimeoutError once more
    than `allowed_seconds`, plus the time its received bytes earned, have passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + allowed_seconds
    chunks: list[bytes] = []
    while True:
        async with asyncio.timeout_at(deadline):
            message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        deadline += len(chunk) / MIN_UPLOAD_BYTES_PER_SECOND
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands out `body` at once, then the client's own messages (its
    disconnect) as usual."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replayed


class InFlightLimit:
    def __init__(self, app: ASGIApp, max_per_key: int, path_prefix: str = "/graphql") -> None:
        self.app = app
        self.max_per_key = max_per_key
        self.path_prefix = path_prefix
        self.in_flight: dict[str, int] = {}  # only callers with a request in flight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.max_per_key == 0
            or scope["type"] != "http"
            or not scope["path"].startswith(self.path_prefix)
        ):
            await self.app(scope, receive, send)
            return
        key = token_hash(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        if self.in_flight.get(key, 0) >= self.max_per_key:
            await send_error(
                scope,
                send,
                429,
                "TOO_MANY_CONCURRENT_REQUESTS",
                f"This key already has {self.max_per_key} requests in flight; retry when "
                "one has finished.",
                {"Retry-After": "1"},
            )
            return
        self.in_flight[key] = self.in_flight.get(key, 0) + 1
        try:
            await self.app(scope, receive, send)
        finally:
            self._release(key)

    def _release(self, key: str) -> None:
        remaining = self.in_flight[key] - 1
        if remaining:
            self.in_flight[key] = remaining
        else:
            del self.in_flight[key]  # the map holds only callers in flight: it cannot grow
