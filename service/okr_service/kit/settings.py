"""Every setting of the service, read once from `OKR_*` environment variables."""

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

# The URL forms PostgreSQL platforms hand out; asyncpg (the one driver installed) serves all.
ASYNCPG_SCHEMES = ("postgres", "postgresql", "postgresql+asyncpg")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def asyncpg_url(url: str) -> str:
    """`url` as SQLAlchemy's asyncpg URL, whichever accepted form it came in; libpq's
    `sslmode` query parameter is asyncpg's `ssl`. ValueError for another scheme."""
    scheme, separator, rest = url.partition("://")
    if not separator or scheme.lower() not in ASYNCPG_SCHEMES:
        raise ValueError("must be a postgresql://, postgres:// or postgresql+asyncpg:// URL")
    normalised = f"postgresql+asyncpg://{rest}"
    parsed = make_url(normalised)
    if "sslmode" not in parsed.query:
        return normalised
    query = dict(parsed.query)
    query.setdefault("ssl", query.pop("sslmode"))
    return parsed.set(query=query).render_as_string(hide_password=False)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OKR_", env_file=".env", extra="ignore")

    database_url: SecretStr | None = Field(
        default=None,
        description="URL of an existing PostgreSQL: postgresql://, postgres:// (as platforms "
        "hand them out) or postgresql+asyncpg://, always served by asyncpg (a `sslmode` "
        "parameter is passed on as asyncpg's `ssl`). Unset: an embedded PostgreSQL is "
        "started in `data_dir`.",
    )
    database_connect_timeout_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How long a command (`serve`, `migrate`, `worker`, `create-org`) keeps "
        "trying, with backoff, to reach a database that does not answer yet (starting up, "
        "unreachable) before it exits with one line saying why. 0: one attempt.",
    )
    data_dir: Path = Field(
        default=Path(".okr-data"), description="Folder of the embedded PostgreSQL's data."
    )
    database_pool_size: int = Field(
        default=10,
        ge=1,
        description="Connections kept per process, in each of its pools (writes; queries).",
    )
    database_max_overflow: int = Field(
        default=10, ge=0, description="Extra connections allowed under bursts, per pool."
    )
    database_pooler: Literal["none", "transaction"] = Field(
        default="none",
        description="`transaction`: `database_url` is a pooler in transaction mode (PgBouncer's "
        "`pool_mode = transaction`), which hands each transaction whichever server connection "
        "is free: no statement stays prepared between statements (asyncpg's and SQLAlchemy's "
        "statement caches are off: each statement is parsed anew), the statement and "
        "idle-in-transaction timeouts are set by every transaction's BEGIN instead of once per "
        "connection, and LISTEN and migrations go to `database_direct_url` (required then). "
        "`none`: `database_url` reaches PostgreSQL itself, or a pooler in session mode; "
        "queries then run on connections that keep their tenant between requests (a "
        "transaction pooler in front would hand those sessions to other clients: set "
        "`transaction` for one).",
    )
    database_direct_url: SecretStr | None = Field(
        default=None,
        description="URL (forms as `database_url`) reaching the same PostgreSQL without a "
        "transaction pooler, for what one cannot serve: the LISTEN connections (API key "
        "revocations, webhook workers' wake-ups) and migrations (one transaction, under an "
        "advisory lock). Unset: `database_url`.",
    )
    database_statement_timeout_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Longest one SQL statement of the service may run before PostgreSQL "
        "cancels it (`statement_timeout`). Migrations are exempt. 0 disables.",
    )
    database_idle_in_transaction_timeout_seconds: float = Field(
        default=10.0,
        ge=0,
        description="PostgreSQL ends a session of the service that sits this long inside a "
        "transaction without running a statement (`idle_in_transaction_session_timeout`): "
        "a stuck request cannot keep its locks and its connection. 0 disables.",
    )
    # Reads on a streaming replica (okr_service/kit/replica.py, README "Scaling out").
    database_read_url: SecretStr | None = Field(
        default=None,
        description="URL of a streaming replica (hot standby) of the primary, in the forms "
        "`database_url` takes. GraphQL queries (never mutations, nor a request with an "
        "Idempotency-Key) are served there while it keeps up; a caller's reads after its "
        "own writes stay on the primary (`Consistency-Token` header, then "
        "`read_your_writes_seconds`). Unset: everything runs on the primary.",
    )
    read_replica_max_lag_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Reads go to the primary while the replica is further behind than this "
        "(the time since the primary first had WAL the replica has not replayed: an idle "
        "primary is no lag), or unreachable, or not in recovery.",
    )
    read_replica_poll_interval_seconds: float = Field(
        default=0.2,
        gt=0,
        le=10,
        description="How often each process reads the primary's WAL position and the "
        "replica's replayed one (one short statement on each).",
    )
    read_your_writes_seconds: float = Field(
        default=3.0,
        ge=0,
        description="After a caller's (API key's, or user token subject's) write, its reads "
        "that echo no `Consistency-Token` stay on the primary this long (per process). "
        "0: only the header keeps a caller's reads consistent.",
    )
    graphiql: bool = Field(default=True, description="Serve the GraphiQL IDE at GET /graphql.")
    federation: bool = Field(
        default=False,
        description="Serve /graphql as an Apollo Federation 2 subgraph: `_service { sdl }`, "
        '`_entities` and `@key(fields: "id")` on Objective, KeyResult, Team, Cycle and '
        "Initiative, for a federation router to compose with other services' subgraphs.",
    )
    # Browsers on other origins (a frontend's dev server, its deployed site): CORS.
    cors_origins: list[str] = Field(
        default=[],
        description='Origins (exact, as browsers send them: `["https://okr.example.com"]`) '
        "whose pages may call the API from a browser. Empty: no cross-origin access.",
    )
    cors_origin_regex: str = Field(
        default="",
        description="A regular expression of further allowed origins; `serve --demo` sets "
        "it to any `http://localhost:*` or `http://127.0.0.1:*` when unset.",
    )
    cors_allow_credentials: bool = Field(
        default=False,
        description="Let allowed origins send cookies and HTTP authentication (the API's "
        "bearer tokens need no credentials mode).",
    )
    cors_max_age_seconds: int = Field(
        default=600, ge=0, description="How long browsers may cache a preflight's answer."
    )
    subscription_poll_interval_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Subscriptions are woken by a NOTIFY when events commit, and their "
        "organization's new events are read once per process for all of them. This is the "
        "fallback: how often each organization's feed reads anyway, in case a notification "
        "was lost. Also how often an open subscription checks its token again.",
    )
    max_subscription_backlog: int = Field(
        default=500,
        ge=1,
        description="Events that may wait for one subscription's client; a client reading "
        "slower than that is ended with SUBSCRIPTION_TOO_SLOW (subscribe again with "
        "`after`: nothing is lost), so it never holds up the others.",
    )
    max_subscriptions_per_connection: int = Field(
        default=20, ge=1, description="Subscriptions one WebSocket may have open at once."
    )
    max_subscriptions_per_key: int = Field(
        default=50,
        ge=1,
        description="Subscriptions one API key or user token may have open at once, over all "
        "its WebSockets, per process.",
    )
    max_websocket_message_bytes: int = Field(
        default=65_536, ge=1024, description="Largest WebSocket message a client may send."
    )
    log_level: str = Field(default="INFO", description="Python logging level.")
    log_format: Literal["json", "text"] = Field(
        default="text",
        description="`json`: one JSON object per line (request lines, uvicorn's, tracebacks as "
        "one field), for a log collector; `text`: readable lines.",
    )
    port: int = Field(
        default=8000,
        ge=1,
        le=65535,
        description="Port `serve` listens on unless `--port` says otherwise; `okr-service "
        "healthcheck` (the container's health check) asks this port.",
    )
    metrics: bool = Field(
        default=True,
        description="Serve Prometheus metrics at GET /metrics (keep the route off the public "
        "proxy: it tells request volumes and operation names).",
    )
    metrics_max_operation_names: int = Field(
        default=100,
        ge=0,
        description="Distinct GraphQL operation names a process labels its metrics with; "
        "later names count as `other` (clients choose names: this bounds the series).",
    )
    auth_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How long a process trusts a verified API key without asking the database "
        "again. Revocations are pushed to every process at once (LISTEN/NOTIFY); this bounds "
        "how long a revoked key may keep working only while that push is down. 0 disables "
        "the cache.",
    )
    auth_refusal_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a process remembers an API key the database refused (unknown, "
        "expired or revoked), so repeating a bad key costs no query. 0 disables.",
    )
    # Frontend users' JWT bearer tokens (okr_service/auth/tokens.py); API keys need none of this.
    jwt_jwks_file: Path | None = Field(
        default=None,
        description="JSON Web Key Set file of the identity provider's public keys (RS256 or "
        "ES256), matched by `kid`. Re-read when a token names a `kid` it lacks.",
    )
    jwt_public_keys: str | None = Field(
        default=None,
        description="PEM public key(s) (RSA or EC P-256) that sign user tokens, besides or "
        "instead of the JWKS file; several may be concatenated.",
    )
    jwt_issuer: str | None = Field(
        default=None,
        description="Required `iss` of user tokens (needed when JWT keys are configured).",
    )
    jwt_audience: str | None = Field(
        default=None,
        description="Required `aud` of user tokens (needed when JWT keys are configured).",
    )
    jwt_leeway_seconds: float = Field(
        default=30.0,
        ge=0,
        le=300,
        description="Clock skew allowed when checking a token's `exp`, `nbf` and `iat`.",
    )
    idempotency_retention_hours: float = Field(
        default=24, gt=0, description="How long an Idempotency-Key is remembered."
    )
    max_page_size: int = Field(
        default=100, ge=1, le=1000, description="Largest `first` a connection accepts."
    )

    # Abuse limits (okr_service/graphql/limits.py, okr_service/kit/ratelimit.py).
    max_query_depth: int = Field(
        default=10, ge=1, description="Deepest nesting of selection sets an operation may use."
    )
    max_query_aliases: int = Field(
        default=15, ge=0, description="Most field aliases one GraphQL document may use."
    )
    max_query_tokens: int = Field(
        default=2000, ge=10, description="Most lexical tokens one GraphQL document may hold."
    )
    max_query_cost: int = Field(
        default=200_000,
        ge=1,
        description="Largest requested query cost: the number of objects the response can "
        "hold at most, from `first` (default 25) on connections and lists, multiplied down "
        "the tree (see okr_service/graphql/limits.py). Reported in each response's extensions.",
    )
    query_cost_list_estimate: int = Field(
        default=5,
        ge=1,
        description="Items assumed in a list field without `first` when computing query cost.",
    )
    query_planner: bool = Field(
        default=True,
        description="Answer the query operations it can serve by the compiled read path "
        "(level by level, see okr_service/graphql/planner); false: every operation runs through "
        "Strawberry's resolvers.",
    )
    query_planner_verify: bool = Field(
        default=False,
        description="Run both read paths and fail any request whose answers differ (the "
        "test suite runs this way; costs double the reads).",
    )
    introspection: bool = Field(
        default=True, description="Answer introspection (`__schema`, `__type`); off in production."
    )
    max_body_bytes: int = Field(
        default=1_000_000, ge=1024, description="Largest request body accepted (else 413)."
    )
    body_read_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Time a request's whole body may take to arrive; a slower upload is "
        "answered 408 REQUEST_TIMEOUT. The body is read before the request takes a database "
        "connection, so a slow upload never holds one.",
    )
    max_concurrent_requests_per_key: int = Field(
        default=10,
        ge=0,
        description="Requests one bearer token (API key or user token) may have in flight at "
        "once on /graphql, per process, upload included; more are answered 429 "
        "TOO_MANY_CONCURRENT_REQUESTS. Keep it below `database_pool_size` + "
        "`database_max_overflow`, so one tenant cannot take every connection. 0 disables.",
    )
    max_json_depth: int = Field(
        default=32,
        ge=4,
        description="Deepest nesting of arrays and objects a request's JSON (the body, or a "
        "GET's variables) may have; deeper is answered 400 INPUT_TOO_DEEP.",
    )
    rate_limit_per_second: float = Field(
        default=50.0,
        ge=0,
        description="Requests per second one API key (or one client address without a key) "
        "may make to /graphql, on average (leaky bucket: per process, or for all processes "
        "together with `redis_url`). 0 disables.",
    )
    rate_limit_burst: int = Field(
        default=100, ge=1, description="Requests one key may make at once above the rate."
    )
    auth_failure_rate_per_second: float = Field(
        default=1.0,
        ge=0,
        description="Requests per second one client address may make to /graphql without a "
        "token known to be valid, on average; once its failed authentications pass "
        "`auth_failure_burst`, such requests are answered 429 before any key lookup. 0 "
        "disables.",
    )
    auth_failure_burst: int = Field(
        default=20,
        ge=1,
        description="Failed authentications one client address may make at once above that rate.",
    )
    trusted_proxy_header: str = Field(
        default="",
        description="Header in which a trusted reverse proxy passes the client's address "
        "(e.g. X-Forwarded-For: its last address is used). Empty: the rate limits see the TCP "
        "peer's address and ignore such headers, which any client can forge.",
    )
    redis_url: SecretStr | None = Field(
        default=None,
        description="Redis (redis://, rediss:// or unix://) that keeps the buckets of "
        "`OKR_RATE_LIMIT_*` and `OKR_AUTH_FAILURE_*`, so each limit holds across every replica "
        "and worker together. Unset: each process keeps its own buckets. While Redis fails or "
        "answers slower than `redis_timeout_seconds`, each process falls back to its own "
        "buckets for a few seconds (counted in `okr_rate_limit_store_errors_total`).",
    )
    redis_key_prefix: str = Field(
        default="okr:ratelimit:",
        min_length=1,
        max_length=64,
        pattern=r"^[!-~]+$",
        description="Start of every Redis key the service writes (printable ASCII, no "
        "spaces), so several deployments can share one Redis. Wrap it in braces (`{okr}:`) to "
        "keep all keys in one Redis Cluster slot.",
    )
    redis_timeout_seconds: float = Field(
        default=0.25,
        gt=0,
        le=5,
        description="Longest a rate-limit check waits for Redis (connect included, and the "
        "process's own event-loop delays: keep it well above them) before the request is "
        "counted by the process's own buckets instead.",
    )

    # Webhooks (okr_service/webhooks): delivery worker, retries and the SSRF guard.
    webhook_worker_in_process: bool = Field(
        default=True,
        description="Run one webhook delivery worker inside each API process "
        "(`okr-service worker` runs more, anywhere).",
    )
    webhook_timeout_seconds: float = Field(
        default=15.0, gt=0, description="Time allowed for one webhook request, connect included."
    )
    webhook_retry_schedule: str = Field(
        default="0,5,300,1800,7200,18000,36000,50400,72000,86400",
        pattern=r"^\s*\d+(\.\d+)?(\s*,\s*\d+(\.\d+)?)*\s*$",
        description="Comma-separated delays in seconds before each attempt (the first is "
        "usually 0); a delivery is dead after the last. Jitter of +-10% is added.",
    )
    webhook_disable_after_days: float = Field(
        default=5.0, gt=0, description="Disable an endpoint that has failed continuously this long."
    )
    webhook_retention_days: float = Field(
        default=30.0, gt=0, description="Prune delivered and dead deliveries older than this."
    )
    webhook_allowed_cidrs: str = Field(
        default="",
        description="Comma-separated CIDRs webhooks may reach even though the SSRF guard "
        "blocks them (loopback, private...): for tests and local development.",
    )
    webhook_allow_http: bool = Field(
        default=False, description="Accept http:// endpoint URLs (otherwise https only)."
    )
    webhook_lease_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long a claimed delivery stays with its worker without news of it: "
        "the worker renews the claims of its requests in flight every third of this, so a "
        "crashed worker's claims are taken again within this time.",
    )
    webhook_poll_interval_seconds: float = Field(
        default=5.0, gt=0, description="Polling fallback when no NOTIFY wakes the worker."
    )
    webhook_worker_concurrency: int = Field(
        default=32, ge=1, description="Requests one worker keeps in flight at most."
    )
    webhook_endpoint_concurrency: int = Field(
        default=4, ge=1, description="Requests in flight to one endpoint at most, all workers."
    )

    # Integrations (okr_service/integrations): inbound Linear, Jira and GitHub webhooks.
    integration_max_body_bytes: int = Field(
        default=1_000_000,
        ge=1,
        description="Largest delivery an integration accepts (else 413, recorded as rejected). "
        "At most `max_body_bytes`, which every route enforces first.",
    )
    integration_rate_limit_per_second: float = Field(
        default=5.0,
        ge=0,
        description="Deliveries per second one integration may receive on average (leaky "
        "bucket, per process), before any database work; more are answered 429. 0 disables.",
    )
    integration_rate_limit_burst: int = Field(
        default=60, ge=1, description="Deliveries one integration may receive at once above it."
    )
    integration_retention_days: float = Field(
        default=30.0, gt=0, description="Prune integration deliveries older than this."
    )

    health_sweep_interval_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How often the worker looks for key results and objectives whose health "
        "moved with time alone (or with the objectives rolling up into them) and announces "
        "it with `*.health_changed` events. Runs wherever the webhook worker runs.",
    )
    check_in_cadence_days: int = Field(
        default=7,
        ge=1,
        le=366,
        description="The check-in period: a key result of an active cycle without a check-in "
        "for that many days gets a `key_result.check_in_due` event, one per missed period "
        "(recorded by the health sweep).",
    )

    def check_in_cadence(self) -> timedelta:
        return timedelta(days=self.check_in_cadence_days)

    def webhook_retry_delays(self) -> tuple[float, ...]:
        return tuple(float(part) for part in self.webhook_retry_schedule.split(","))

    @field_validator("database_url", "database_read_url", "database_direct_url")
    @classmethod
    def _served_by_asyncpg(cls, url: SecretStr | None) -> SecretStr | None:
        return None if url is None else SecretStr(asyncpg_url(url.get_secret_value()))

    @model_validator(mode="after")
    def _direct_url_behind_a_transaction_pooler(self) -> Self:
        if self.database_pooler == "transaction" and self.database_direct_url is None:
            raise ValueError(
                "OKR_DATABASE_POOLER=transaction needs OKR_DATABASE_DIRECT_URL: a transaction "
                "pooler cannot hold a LISTEN nor run the migrations"
            )
        return self

    @field_validator("redis_url")
    @classmethod
    def _a_redis_url(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None and not url.get_secret_value().startswith(REDIS_SCHEMES):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return url


@lru_cache
def get_settings() -> Settings:
    return Settings()


class TracingSettings(BaseSettings):
    """OpenTelemetry's standard `OTEL_*` variables that decide whether traces are exported.
    The SDK reads the rest itself (service name, resource, sampler, exporter headers)."""

    model_config = SettingsConfigDict(env_prefix="OTEL_", extra="ignore")

    sdk_disabled: bool = False
    traces_exporter: str | None = None  # otlp, console or none
    exporter_otlp_endpoint: str | None = None
    exporter_otlp_traces_endpoint: str | None = None

    @property
    def exporter(self) -> str | None:
        """The exporter to use, None when tracing is off (the default: nothing is set)."""
        if self.sdk_disabled:
            return None
        if self.traces_exporter is not None:
            chosen = self.traces_exporter.strip().lower()
            return None if chosen in ("", "none") else chosen
        if self.exporter_otlp_endpoint or self.exporter_otlp_traces_endpoint:
            return "otlp"
        return None


def shown_default(default: object) -> str:
    if default is None:
        return "unset"
    if default == "":
        return "empty"
    return f"`{str(default).lower() if isinstance(default, bool) else default}`"


def markdown_table() -> str:
    """The README's configuration table, from the fields above: one place for each setting."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        shown = shown_default(field.get_default(call_default_factory=True))
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `OKR_{name.upper()}` | {shown} | {description} |")
    rows.append(
        "| `OKR_TEST_DATABASE_URL` | unset | Tests only: a server to create their throwaway "
        "database on (else an embedded one). |"
    )
    return "\n".join(rows)
