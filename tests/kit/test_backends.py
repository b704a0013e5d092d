"""Optional backends load only when configured: a worker without OKR_REDIS_URL never
imports Redis' client (each worker keeps what it imports); with it, the buckets are
Redis'."""

import os
import subprocess
import sys

from pydantic import SecretStr

from okr_service.kit.backends import redis_buckets
from okr_service.kit.redis_buckets import RedisBuckets
from okr_service.kit.settings import Settings

# A fresh interpreter: this one has imported everything the tests use.
APP_WITHOUT_REDIS = """
import sys
from okr_service.app import create_app
from okr_service.kit.settings import Settings
create_app(Settings(database_url=None))
print(sorted(name for name in sys.modules if name == "redis" or name.startswith("redis.")))
"""


def test_without_a_redis_url_there_are_no_shared_buckets() -> None:
    assert redis_buckets(Settings(database_url=None, redis_url=None)) is None


async def test_with_a_redis_url_the_buckets_are_redis() -> None:
    settings = Settings(
        database_url=None,
        redis_url=SecretStr("redis://127.0.0.1:1/0"),
        redis_key_prefix="okr-test:",
    )
    buckets = redis_buckets(settings)
    assert isinstance(buckets, RedisBuckets)
    assert buckets.prefix == "okr-test:"
    assert buckets.timeout == settings.redis_timeout_seconds
    await buckets.close()  # it never connected: nothing listens on port 1


def test_an_app_without_redis_never_imports_its_client() -> None:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OKR_")}
    done = subprocess.run(
        [sys.executable, "-c", APP_WITHOUT_REDIS],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert done.stdout.strip() == "[]"
