"""The rate limits' buckets in Redis (`OKR_REDIS_URL`): one bucket per caller for every
replica and worker, so a limit holds for the whole deployment, not per process.

- One round trip per check: a Lua script, atomic in Redis, applies the generic cell rate
  algorithm (GCRA) to every bucket of the check at once (all take a unit, or none does).
  GCRA is the leaky bucket of `LeakyBucket` kept as one number, the bucket's theoretical
  arrival time (TAT): the level is (TAT - now) x rate, so the answers, Retry-After
  included, are the in-process ones. Time is Redis' own clock (`TIME`), the one clock
  every replica shares.
- Each key expires by itself when its bucket has leaked empty (its TTL is the bucket's
  drain time), so idle callers leave nothing behind.
- Keys are `<OKR_REDIS_KEY_PREFIX><limit>:<32 hex digits>`: the identity (a token's hash,
  an address, whatever a trusted proxy header says) is hashed again, so no token or
  address is stored and no caller can make a long key.
- When Redis fails, or answers slower than `OKR_REDIS_TIMEOUT_SECONDS` (connect included),
  the check is answered by the process's own buckets, and so is every check for the next
  `LOCAL_SECONDS`, so a Redis outage costs each request at most one timeout every few
  seconds: limits become per process (N x the rate), never absent, and the service keeps
  answering. Each failure counts in `okr_rate_limit_store_errors_total`; a warning is
  logged at most once a minute.
"""

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Callable, Sequence

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from okr_service.kit import metrics
from okr_service.kit.ratelimit import Charge, LocalBuckets

logger = logging.getLogger(__name__)

# KEYS: the buckets. ARGV[1]: 1 takes a unit from every bucket (all or none), -1 gives one
# back to each. ARGV[2i], ARGV[2i+1]: bucket i's emission interval (1 / rate) and burst
# tolerance (burst / rate), in microseconds. A key holds its bucket's TAT in microseconds.
# Answers 0 when done, else the microseconds to wait (nothing changed).
GCRA = """
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local direction = tonumber(ARGV[1])
local arrivals = {}
local wait = 0
for i, key in ipairs(KEYS) do
  local emission = tonumber(ARGV[2 * i])
  local stored = redis.call('GET', key)
  local arrival = now
  if stored then arrival = math.max(tonumber(stored), now) end
  arrivals[i] = arrival + direction * emission
  if direction > 0 then
    wait = math.max(wait, arrivals[i] - now - tonumber(ARGV[2 * i + 1]))
  end
end
if wait > 0 then return math.ceil(wait) end
for i, key in ipairs(KEYS) do
  local drain_ms = math.ceil((arrivals[i] - now) / 1000)
  if drain_ms > 0 then
    local tat, ttl = string.format('%.0f', arrivals[i]), string.format('%.0f', drain_ms)
    redis.call('SET', key, tat, 'PX', ttl)
  else
    redis.call('DEL', key)
  end
end
return 0
"""

TAKE, GIVE_BACK = 1, -1
LOCAL_SECONDS = 5.0  # after a failure, how long checks stay in the process
WARN_EVERY_SECONDS = 60.0
# Connections per process: a check holds one for a fraction of a millisecond, so a few
# dozen serve thousands of requests a second; a flood waits for one (within the timeout)
# instead of opening thousands on Redis.
MAX_CONNECTIONS = 32


class RedisBuckets:
    """A `BucketStore` in Redis, with this process's buckets as the fallback."""

    def __init__(
        self,
        client: Redis,
        prefix: str,
        timeout: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.timeout = timeout
        self.clock = clock
        self.local = LocalBuckets()
        self._script = client.register_script(GCRA)
        self._local_until = -math.inf
        self._warned_at = -math.inf

    @classmethod
    def connect(cls, url: str, prefix: str, timeout: float) -> "RedisBuckets":
        """A client of `url` (no connection yet: the first check opens one)."""
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),  # a failed check falls back at once, never retries
        )
        return cls(Redis.from_pool(pool), prefix, timeout)

    async def close(self) -> None:
        await self.client.aclose()

    def key(self, charge: Charge) -> str:
        limit, identity = charge
        digest = hashlib.blake2b(identity.encode(), digest_size=16).hexdigest()
        return f"{self.prefix}{limit.name}:{digest}"

    async def take(self, charges: Sequence[Charge]) -> float:
        if self.clock() < self._local_until:
            return self.local.take_now(charges)
        wait = await self._run(charges, TAKE)
        return self.local.take_now(charges) if wait is None else wait

    async def give_back(self, charges: Sequence[Charge]) -> None:
        if self.clock() < self._local_until or await self._run(charges, GIVE_BACK) is None:
            self.local.give_back_now(charges)

    async def _run(self, charges: Sequence[Charge], direction: int) -> float | None:
        """The script's answer in seconds, or None when Redis failed."""
        args: list[int | str] = [direction]
        for limit, _ in charges:
            emission = 1_000_000 / limit.rate
            args += [repr(emission), repr(emission * limit.burst)]
        try:
            async with asyncio.timeout(self.timeout):
                wait = await self._script(keys=[self.key(charge) for charge in charges], args=args)
        except (RedisError, OSError, TimeoutError) as error:
            self._failed(error)
            return None
        return int(wait) / 1_000_000

    def _failed(self, error: Exception) -> None:
        now = self.clock()
        self._local_until = now + LOCAL_SECONDS
        metrics.RATE_LIMIT_STORE_ERRORS.labels(reason_of(error)).inc()
        if now - self._warned_at >= WARN_EVERY_SECONDS:
            self._warned_at = now
            logger.warning(
                "Rate limits are per process for %.0f s: Redis did not answer (%s: %s)",
                LOCAL_SECONDS,
                type(error).__name__,
                str(error) or f"nothing within {self.timeout} s",
            )


def reason_of(error: Exception) -> str:
    if isinstance(error, TimeoutError | RedisTimeoutError):
        return "timeout"
    if isinstance(error, RedisConnectionError | OSError):
        return "connection"
    return "other"
