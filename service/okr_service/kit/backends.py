"""Optional backends, imported only when the settings configure them.

Every worker process keeps whatever it imports, used or not: Redis' client alone adds
about 8 MB to each worker's resident memory, and most deployments run without Redis. The
modules that need an optional dependency are therefore imported here, by name, at app
assembly, when (and only when) their backend is configured. This is the one place the
service imports a module that way; everything else imports at the top of its module.
"""

import importlib
from typing import TYPE_CHECKING

from okr_service.kit.settings import Settings

if TYPE_CHECKING:  # the type only: the module itself loads when Redis is configured
    from okr_service.kit.redis_buckets import RedisBuckets

REDIS_BUCKETS = "okr_service.kit.redis_buckets"  # needs the `redis` package


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
