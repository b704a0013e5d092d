"""API keys: issued once in clear, stored as SHA-256, resolved to a principal per request."""

import hashlib
import secrets
import time
from collections import OrderedDict
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.auth.models import ApiKey
from okr_service.kit.errors import Unauthenticated
from okr_service.kit.principal import Principal, Scope, effective_scopes

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
    """Recently verified keys, so a busy client costs no query per request, and recently
    refused ones, so repeating a bad key costs none either.

    A revoked key is forgotten by every process as soon as the revocation commits (pushed by
    okr_service/auth/revocations.py); `ttl` bounds how long it may keep working if that push is
    lost. `ttl` 0 caches no verified key; `refusal_ttl` 0 no refused one.
    """

    def __init__(self, ttl: float, refusal_ttl: float = 0.0, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.refusal_ttl = refusal_ttl
        self.max_entries = max_entries
        # Bumped by every forget() and clear(): a lookup that began in an older epoch may
        # have read a row revoked meanwhile, so its answer must not be cached.
        self.epoch = 0
        self._entries: dict[str, tuple[float, datetime | None, Principal]] = {}
        self._refused: OrderedDict[str, float] = OrderedDict()  # oldest first

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
        self.epoch += 1
        self._entries.pop(key_hash, None)
        self._refused.pop(key_hash, None)  # an expiry pushed back makes a key valid again

    def clear(self) -> None:
        self.epoch += 1
        self._entries.clear()
        self._refused.clear()

    def put(
        self,
        key_hash: str,
        expires_at: datetime | None,
        principal: Principal,
        *,
        epoch: int | None = None,
    ) -> None:
        """Cache a key verified by a lookup that began in `epoch` (now when None)."""
        if not self.ttl or (epoch is not None and epoch != self.epoch):
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # crude, but bounded; a refill costs one query per key
        self._entries[key_hash] = (time.monotonic(), expires_at, principal)

    def is_refused(self, key_hash: str) -> bool:
        refused_at = self._refused.get(key_hash)
        if refused_at is None:
            return False
        if time.monotonic() - refused_at > self.refusal_ttl:
            del self._refused[key_hash]
            return False
        return True

    def refuse(self, key_hash: str) -> None:
        """Remember a key the database refused. Made-up keys never become valid, and a
        revoked or expired key stays so (short of an expiry change, which is pushed)."""
        if not self.refusal_ttl:
            return
        self._refused.pop(key_hash, None)
        self._refused[key_hash] = time.monotonic()
        if len(self._refused) > self.max_entries:
            self._refused.popitem(last=False)  # the oldest: the first to lapse anyway


def is_expired(expires_at: datetime | None) -> bool:
    return expires_at is not None and expires_at <= datetime.now(UTC)


async def authenticate(
    db: AsyncSession,
    secret: str,
    cache: PrincipalCache | None = None,
    *,
    remember_refusal: bool = True,
) -> Principal:
    """The key's principal. `remember_refusal=False`: a refusal is not cached (a read
    replica's: a key created a moment ago may not have reached it yet)."""
    key_hash = hash_key(secret)
    if cache is not None:
        cached = cache.get(key_hash)
        if cached is not None:
            return cached
        if cache.is_refused(key_hash):
            raise Unauthenticated
    epoch = cache.epoch if cache is not None else None
    row = (
        await db.execute(
            select(
                ApiKey.id, ApiKey.organization_id, ApiKey.name, ApiKey.scopes, ApiKey.expires_at
            ).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
        )
    ).one_or_none()
    if row is None or is_expired(row.expires_at):
        if cache is not None and remember_refusal:
            cache.refuse(key_hash)
        raise Unauthenticated
    principal = Principal(
        organization_id=row.organization_id,
        scopes=effective_scopes(row.scopes),
        actor_id=row.id,
        actor_name=row.name,
    )
    if cache is not None:
        cache.put(key_hash, row.expires_at, principal, epoch=epoch)
    return principal
