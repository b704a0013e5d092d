from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from okr_service.auth import service
from okr_service.auth.service import PrincipalCache
from okr_service.kit.principal import Principal, Scope


def principal() -> Principal:
    return Principal(uuid4(), frozenset({Scope.READ}), uuid4(), "reader")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(service.time, "monotonic", lambda: now[0])
    return now


def test_a_cached_key_is_trusted_until_its_ttl(clock: list[float]) -> None:
    cache = PrincipalCache(ttl=10)
    who = principal()
    cache.put("hash", None, who)
    clock[0] += 10
    assert cache.get("hash") is who
    clock[0] += 0.001
    assert cache.get("hash") is None
    assert cache.get("other") is None


def test_an_expiring_key_is_not_trusted_past_its_expiry(clock: list[float]) -> None:
    cache = PrincipalCache(ttl=60)
    cache.put("hash", datetime.now(UTC) - timedelta(seconds=1), principal())
    assert cache.get("hash") is None


def test_the_cache_stays_bounded(clock: list[float]) -> None:
    cache = PrincipalCache(ttl=60, max_entries=2)
    for key in ("a", "b", "c"):
        cache.put(key, None, principal())
    assert cache.get("c") is not None
    assert cache.get("a") is None
