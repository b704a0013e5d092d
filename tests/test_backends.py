"""Optional backends load only when configured: a worker without OKR_REDIS_URL never
imports Redis' client, one without JWT keys never imports the JWT library and
`cryptography`, one without tracing never imports OpenTelemetry's SDK (each worker keeps
what it imports); configured, they are there."""

import os
import subprocess
import sys

import pytest
from opentelemetry.sdk.trace import TracerProvider
from pydantic import SecretStr

from okr_service.auth.tokens import TokenVerifier
from okr_service.backends import redis_buckets, token_verifier, tracer_provider
from okr_service.kit.redis_buckets import RedisBuckets
from okr_service.kit.settings import Settings, TracingSettings
from tests.auth.conftest import AUDIENCE, ISSUER, pem, rsa_key

OPTIONAL = ("redis", "jwt", "cryptography", "opentelemetry.sdk")
# A fresh interpreter: this one has imported everything the tests use.
APP_WITHOUT_BACKENDS = f"""
import sys
from okr_service.app import create_app
from okr_service.kit.settings import Settings
create_app(Settings(database_url=None))
print(sorted(
    package
    for package in {OPTIONAL!r}
    if any(name == package or name.startswith(package + ".") for name in sys.modules)
))
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


def test_without_jwt_keys_there_is_no_verifier() -> None:
    assert token_verifier(Settings(database_url=None)) is None


def test_with_jwt_keys_user_tokens_are_verified() -> None:
    settings = Settings(
        database_url=None, jwt_public_keys=pem(rsa_key()), jwt_issuer=ISSUER, jwt_audience=AUDIENCE
    )
    verifier = token_verifier(settings)
    assert isinstance(verifier, TokenVerifier)
    assert (verifier.issuer, verifier.audience, len(verifier.pem_keys)) == (ISSUER, AUDIENCE, 1)


def test_jwt_keys_without_issuer_are_refused() -> None:
    with pytest.raises(ValueError, match="OKR_JWT_ISSUER"):
        token_verifier(Settings(database_url=None, jwt_public_keys=pem(rsa_key())))


def test_without_otel_variables_there_is_no_tracing() -> None:
    assert tracer_provider(TracingSettings()) is None


def test_with_an_exporter_chosen_spans_go_to_a_provider() -> None:
    provider = tracer_provider(TracingSettings(traces_exporter="console"))
    assert isinstance(provider, TracerProvider)
    provider.shutdown()


def test_an_app_without_them_never_imports_the_optional_libraries() -> None:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("OKR_", "OTEL_"))
    }
    done = subprocess.run(
        [sys.executable, "-c", APP_WITHOUT_BACKENDS],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert done.stdout.strip() == "[]"
