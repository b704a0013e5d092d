"""API keys: issued once in clear, stored as SHA-256, resolved to a principal per request."""

import hashlib
import secrets
import time
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.models import ApiKey
from service.kit.errors import Unauthenticated
from service.kit.principal import Principal, Scope, effective_scopes

KEY_PREFIX = "okr_"
API_KEY = "ApiKey"


def hash_key(secret: str) -> str:
    # Keys are 256 random bits: a fast hash is safe, unlike with human passwords.
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_api_key(
    db: AsyncSession, organization_id: UUID, name: str, scopes: list[Scope]
) -> tuple[ApiKey, str]:
    """A new key and its secret, which is never stored and cannot be shown again."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        organization_id=organization_id,
        name=name,
        key_hash=hash_key(secret),
        scopes=[str(scope) for scope in scopes],
    )
    db.add(key)
    await db.flush()
    return key, secret


class PrincipalCache:
    """Recently verified keys, so a busy client costs no query per request.

    A revoked key keeps working for at most `ttl` seconds in each process.
    """

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, datetime | None, Principal]] = {}

    def get(self, key_hash: str) -> Principal | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        cached_at, expires_at, principal = entry
        if time.monotonic() - cached_at > self.ttl or is_expired(expires_at):
            del self._entries[key_hash]
            return None
        return principal

    def forget(self, key_hash: str) -> None:
        self._entries.pop(key_hash, None)

    def put(self, key_hash: str, expires_at: datetime | None, principal: Principal) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # crude, but bounded; a refill costs one query per key
        self._entries[key_hash] = (time.monotonic(), expires_at, principal)


def is_expired(expires_at: datetime | None) -> bool:
    return expires_at is not None and expires_at <= datetime.now(UTC)


async def authenticate(
    db: AsyncSession, secret: str, cache: PrincipalCache | None = None
) -> Principal:
    key_hash = hash_key(secret)
    cached = cache.get(key_hash) if cache else None
    if cached is not None:
        return cached
    row = (
        await db.execute(
            select(
                ApiKey.id, ApiKey.organization_id, ApiKey.name, ApiKey.scopes, ApiKey.expires_at
            ).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
        )
    ).one_or_none()
    if row is None or is_expired(row.expires_at):
        raise Unauthenticated
    principal = Principal(
        organization_id=row.organization_id,
        scopes=effective_scopes(row.scopes),
        actor_id=row.id,
        actor_name=row.name,
    )
    if cache is not None:
        cache.put(key_hash, row.expires_at, principal)
    return principal
