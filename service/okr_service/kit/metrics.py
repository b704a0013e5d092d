"""Prometheus metrics: every family the service exports, declared once, named the Prometheus
way (`okr_` prefix, base units, bounded labels: never an ID, a URL or a free text).

Observed at the edges only (the HTTP middleware, the GraphQL operation, the database pool
and transaction events, the delivery worker, the health sweep), so a request pays for a
couple of histogram observations, not for anything per field.

With several processes (`serve --workers N`) every process writes its values to files in
`PROMETHEUS_MULTIPROC_DIR` (set by `okr-service serve`), and `/metrics` sums them, so any
worker answering a scrape reports the whole server.
"""

import re
import time
import weakref
from functools import lru_cache
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from sqlalchemy import event
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LAG_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0, 1800.0, 7200.0, 86400.0)
COST_BUCKETS = (1, 10, 100, 1_000, 10_000, 50_000, 100_000, 200_000, 1_000_000)

HTTP_REQUESTS = Counter(
    "okr_http_requests_total",
    "HTTP requests answered, by route, method and status (refused ones included); their "
    "latency is okr_graphql_operation_duration_seconds, by operation.",
    ["route", "method", "status"],
)
GRAPHQL_OPERATION_DURATION = Histogram(
    "okr_graphql_operation_duration_seconds",
    "Authenticated GraphQL requests by operation type and name (names beyond the first "
    "OKR_METRICS_MAX_OPERATION_NAMES of a process are `other`; unnamed ones `anonymous`).",
    ["operation_type", "operation_name"],
    buckets=LATENCY_BUCKETS,
)
ERRORS = Counter(
    "okr_errors_total",
    "Errors answered, by their stable code (GraphQL `extensions.code` or the HTTP error body's "
    "`error.code`).",
    ["code"],
)
QUERY_COST = Histogram(
    "okr_graphql_query_cost",
    "Requested cost of executed GraphQL operations (objects the answer can hold at most).",
    buckets=COST_BUCKETS,
)
QUERIES_BY_PATH = Counter(
    "okr_graphql_queries_total",
    "GraphQL queries executed, by the path that answered: `compiled` (level by level, "
    "graphql/planner) or `resolvers` (Strawberry's, field by field).",
    ["path"],
)
RATE_LIMITED = Counter(
    "okr_rate_limited_requests_total",
    "Requests refused 429 by a rate or concurrency limit, by code.",
    ["code"],
)
RATE_LIMIT_STORE_ERRORS = Counter(
    "okr_rate_limit_store_errors_total",
    "Rate-limit checks that Redis (OKR_REDIS_URL) failed or did not answer in time, by "
    "reason (timeout, connection, other); each sends the process to its own buckets for a "
    "few seconds.",
    ["reason"],
)
IDEMPOTENT_REPLAYS = Counter(
    "okr_idempotency_replays_total",
    "Requests answered with the stored answer of an earlier request with the same Idempotency-Key.",
)
POOL_IN_USE = Gauge(
    "okr_db_pool_connections_in_use",
    "Database connections checked out of the pool, by pool.",
    ["pool"],
    multiprocess_mode="livesum",
)
POOL_WAITING = Gauge(
    "okr_db_pool_checkouts_waiting",
    "Requests for a pooled connection not yet served, by pool.",
    ["pool"],
    multiprocess_mode="livesum",
)
POOL_TIMEOUTS = Counter(
    "okr_db_pool_timeouts_total",
    "Requests for a pooled connection that gave up waiting, by pool.",
    ["pool"],
)
TRANSACTION_DURATION = Histogram(
    "okr_db_transaction_duration_seconds",
    "Database transactions, BEGIN to COMMIT or ROLLBACK, by pool and outcome.",
    ["pool", "outcome"],
    buckets=LATENCY_BUCKETS,
)
WEBHOOK_DELIVERIES = Counter(
    "okr_webhook_deliveries_total",
    "Webhook delivery attempts by outcome (delivered, failed: retried later, dead: no "
    "attempt left, gone: 410) and attempt number (capped at 10, `10+` beyond).",
    ["outcome", "attempt"],
)
WEBHOOK_ATTEMPT_DURATION = Histogram(
    "okr_webhook_attempt_duration_seconds",
    "Duration of one webhook HTTP attempt, connect included.",
    buckets=LATENCY_BUCKETS,
)
WEBHOOK_DELIVERY_LAG = Histogram(
    "okr_webhook_delivery_lag_seconds",
    "From the event's commit to its receipt by the endpoint (successful deliveries).",
    buckets=LAG_BUCKETS,
)
WEBHOOK_QUEUE_DEPTH = Gauge(
    "okr_webhook_queue_depth",
    "Deliveries due now and not yet delivered (all organizations), as a worker last saw.",
    multiprocess_mode="livemax",
)
WEBHOOK_QUEUE_OLDEST_AGE = Gauge(
    "okr_webhook_queue_oldest_age_seconds",
    "Age of the oldest delivery due and not yet delivered (0: none), as a worker last saw.",
    multiprocess_mode="livemax",
)
READ_REPLICA_LAG = Gauge(
    "okr_read_replica_lag_seconds",
    "How far the read replica (OKR_DATABASE_READ_URL) is behind, as a process last saw: the "
    "time since the primary first had WAL the replica has not replayed (0 when caught up, "
    "+Inf while unreachable or not in recovery).",
    multiprocess_mode="livemax",
)
DATABASE_READS = Counter(
    "okr_database_reads_total",
    "Read-only GraphQL requests by the database that served them (`replica`, `primary`) "
    "and why: replica, lagging, unavailable, write_not_replayed, recent_write, idempotency_key, "
    "fell_back (the replica failed or did not know the caller's key yet). Counted only "
    "with a read replica configured.",
    ["target", "reason"],
)
HEALTH_SWEEP_DURATION = Histogram(
    "okr_health_sweep_duration_seconds",
    "Duration of one health sweep over every organization with an open cycle.",
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0),
)
HEALTH_SWEEP_CHANGES = Counter(
    "okr_health_sweep_changes_total",
    "Health changes the sweep announced (`*.health_changed` events).",
)

# --- bounded labels ----------------------------------------------------------------------

ROUTES = frozenset({"/graphql", "/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"})
METHODS = frozenset({"GET", "POST", "HEAD", "OPTIONS"})
CODE = re.compile(r"[A-Z][A-Z0-9_]{0,47}")
OPERATION_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
MAX_LABELLED_ATTEMPT = 10


def route_label(path: str) -> str:
    return path if path in ROUTES else "other"


def method_label(method: str) -> str:
    return method if method in METHODS else "other"


def code_label(code: object) -> str:
    """A server-given code as it is; anything else (never expected) as one value."""
    return code if isinstance(code, str) and CODE.fullmatch(code) else "OTHER"


def attempt_label(attempt: int) -> str:
    return str(attempt) if attempt <= MAX_LABELLED_ATTEMPT else f"{MAX_LABELLED_ATTEMPT}+"


# Label lookups cached: prometheus_client checks and locks on every `.labels()` call, and a
# request counts and observes a few; every label value here comes from a bounded set.
@lru_cache(maxsize=4096)
def http_requests(route: str, method: str, status: int) -> Any:
    return HTTP_REQUESTS.labels(route, method, str(status))


@lru_cache(maxsize=4096)
def graphql_operation_duration(operation_type: str, operation_name: str) -> Any:
    return GRAPHQL_OPERATION_DURATION.labels(operation_type, operation_name)


@lru_cache(maxsize=64)
def database_reads(target: str, reason: str) -> Any:
    return DATABASE_READS.labels(target, reason)


class OperationNames:
    """The operation names a process labels: the first `capacity` it meets, `other` after.

    Names are chosen by clients, so a client sending endless fresh names could otherwise
    make endless time series; with the cap the worst it can do is use up the places.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._known: set[str] = set()

    def label(self, name: str | None) -> str:
        if not name:
            return "anonymous"
        if name in self._known:
            return name
        if len(self._known) >= self.capacity or not OPERATION_NAME.fullmatch(name):
            return "other"
        self._known.add(name)
        return name


# --- the database pool -------------------------------------------------------------------


def instrument_pool(engine: AsyncEngine, pool: str) -> None:
    """Connections in use, checkouts waiting and timing out, and transaction durations of
    `engine`, labelled `pool` (one word per engine: api, reads, replica, webhooks)."""
    in_use, waiting = POOL_IN_USE.labels(pool), POOL_WAITING.labels(pool)
    timeouts = POOL_TIMEOUTS.labels(pool)
    committed = TRANSACTION_DURATION.labels(pool, "commit")
    rolled_back = TRANSACTION_DURATION.labels(pool, "rollback")
    sync_engine = engine.sync_engine
    pool_ = sync_engine.pool
    # SQLAlchemy has an event after a checkout, none before it waits: wrap the pool's own.
    checkout_from_pool = pool_._do_get

    def counted_checkout() -> Any:
        waiting.inc()
        try:
            return checkout_from_pool()
        except PoolTimeout:
            timeouts.inc()
            raise
        finally:
            waiting.dec()

    pool_._do_get = counted_checkout  # type: ignore[method-assign]
    event.listen(pool_, "checkout", lambda *_: in_use.inc())
    event.listen(pool_, "checkin", lambda *_: in_use.dec())

    # Kept beside the connection, not in `connection.info`: reading that reconnects, which
    # an invalidated connection (a database outage) refuses during its rollback.
    began_at: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    def began(connection: Any) -> None:
        began_at[connection] = time.perf_counter()

    def ended(histogram: Histogram) -> Any:
        def observe(connection: Any) -> None:
            started = began_at.pop(connection, None)
            if started is not None:
                histogram.observe(time.perf_counter() - started)

        return observe

    event.listen(sync_engine, "begin", began)
    event.listen(sync_engine, "commit", ended(committed))
    event.listen(sync_engine, "rollback", ended(rolled_back))


# --- exposition ------------------------------------------------------------------------


def is_multiprocess() -> bool:
    """True when values go to files (PROMETHEUS_MULTIPROC_DIR was set before import)."""
    return values.ValueClass is not values.MutexValue


def exposition() -> tuple[bytes, str]:
    """The text format of every family, of this process or, under several workers, of all."""
    if not is_multiprocess():
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST


def process_exited(pid: int) -> None:
    """Drop a finished process's live gauges (in use, waiting) from the sums."""
    if is_multiprocess():
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
