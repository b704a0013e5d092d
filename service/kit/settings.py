"""Every setting of the service, read once from `OKR_*` environment variables."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OKR_", env_file=".env", extra="ignore")

    database_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL of an existing PostgreSQL (postgresql+asyncpg://...). "
        "Unset: an embedded PostgreSQL is started in `data_dir`.",
    )
    data_dir: Path = Field(
        default=Path(".okr-data"), description="Folder of the embedded PostgreSQL's data."
    )
    database_pool_size: int = Field(default=10, ge=1, description="Connections kept per process.")
    database_max_overflow: int = Field(
        default=10, ge=0, description="Extra connections allowed under bursts."
    )
    graphiql: bool = Field(default=True, description="Serve the GraphiQL IDE at GET /graphql.")
    log_level: str = Field(default="INFO", description="Python logging level.")
    auth_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How long a process trusts a verified API key without asking the database "
        "again (a revoked key keeps working this long). 0 disables the cache.",
    )
    # Frontend users' JWT bearer tokens (service/auth/tokens.py); API keys need none of this.
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

    # Abuse limits (service/graphql/limits.py, service/kit/ratelimit.py).
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
        "the tree (see service/graphql/limits.py). Reported in each response's extensions.",
    )
    query_cost_list_estimate: int = Field(
        default=5,
        ge=1,
        description="Items assumed in a list field without `first` when computing query cost.",
    )
    introspection: bool = Field(
        default=True, description="Answer introspection (`__schema`, `__type`); off in production."
    )
    max_body_bytes: int = Field(
        default=1_000_000, ge=1024, description="Largest request body accepted (else 413)."
    )
    rate_limit_per_second: float = Field(
        default=50.0,
        ge=0,
        description="Requests per second one API key (or one client address without a key) "
        "may make to /graphql, on average (leaky bucket, per process). 0 disables.",
    )
    rate_limit_burst: int = Field(
        default=100, ge=1, description="Requests one key may make at once above the rate."
    )

    # Webhooks (service/webhooks): delivery worker, retries and the SSRF guard.
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
        default=60.0,
        gt=0,
        description="How long a claimed delivery stays with its worker; a crashed worker's "
        "claims are taken again after it. Keep it above the timeout.",
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

    health_sweep_interval_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How often the worker looks for key results and objectives whose health "
        "moved with time alone (or with the objectives rolling up into them) and announces "
        "it with `*.health_changed` events. Runs wherever the webhook worker runs.",
    )

    def webhook_retry_delays(self) -> tuple[float, ...]:
        return tuple(float(part) for part in self.webhook_retry_schedule.split(","))


@lru_cache
def get_settings() -> Settings:
    return Settings()


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
