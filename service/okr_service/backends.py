"""Optional backends, imported only when the settings configure them.

Every worker process keeps whatever it imports, used or not: Redis' client adds about
8 MB to each worker's resident memory, the JWT library with `cryptography` about 10 MB,
OpenTelemetry's SDK about 1 MB, and most deployments use none of them. The modules that
need them are therefore imported here, by name, at app assembly, when (and only when)
their backend is configured. This is the one place the service chooses a module to
import by its configuration (`kit/trace_export.py` alone imports its chosen exporter the
same way); everything else imports at the top of its module.
"""

import importlib
from typing import TYPE_CHECKING

from okr_service.auth.bearer import accepts_user_tokens
from okr_service.kit.settings import Settings, TracingSettings

if TYPE_CHECKING:  # the types only: the modules load when their backend is configured
    from opentelemetry.sdk.trace import TracerProvider

    from okr_service.auth.tokens import TokenVerifier
    from okr_service.kit.redis_buckets import RedisBuckets

REDIS_BUCKETS = "okr_service.kit.redis_buckets"  # needs `redis`
JWT_VERIFIER = "okr_service.auth.tokens"  # needs `jwt` (PyJWT) and `cryptography`
TRACE_EXPORT = "okr_service.kit.trace_export"  # needs `opentelemetry-sdk`


def redis_buckets(settings: Settings) -> "RedisBuckets | None":
    """The rate limits' buckets in Redis when `OKR_REDIS_URL` is set, else None."""
    if settings.redis_url is None:
        return None
    module = importlib.import_module(REDIS_BUCKETS)
    buckets: RedisBuckets = module.RedisBuckets.connect(
        settings.redis_url.get_secret_value(),
        settings.redis_key_prefix,
        settings.redis_timeout_seconds,
    )
    return buckets


def token_verifier(settings: Settings) -> "TokenVerifier | None":
    """The verifier of user tokens when their keys are configured, else None (then only
    API keys work). Raises ValueError for keys configured incompletely or unusable."""
    if not accepts_user_tokens(settings):
        return None
    module = importlib.import_module(JWT_VERIFIER)
    verifier: TokenVerifier | None = module.TokenVerifier.from_settings(settings)
    return verifier


def tracer_provider(settings: TracingSettings | None = None) -> "TracerProvider | None":
    """Where spans go when the standard `OTEL_*` variables turn tracing on, else None."""
    settings = settings or TracingSettings()
    if settings.exporter is None:
        return None
    module = importlib.import_module(TRACE_EXPORT)
    provider: TracerProvider | None = module.provider_from_environment(settings)
    return provider
