"""API keys: issued once in clear, stored as SHA-256, resolved to a principal per request."""

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.models import ApiKey
from service.kit.errors import DomainError, ErrorCode, Unauthenticated

KEY_PREFIX = "okr_"
API_KEY = "ApiKey"


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


class Role(StrEnum):
    """What a principal may do in its organization; each role grants the ones below it."""

    VIEWER = "viewer"  # read everything
    EDITOR = "editor"  # write the OKRs of its teams and of the teams below them
    ADMIN = "admin"  # everything: structure (teams, cycles), webhooks, API keys


# A scope grants the ones below it.
_IMPLIED = {
    Scope.READ: {Scope.READ},
    Scope.WRITE: {Scope.READ, Scope.WRITE},
    Scope.ADMIN: {Scope.READ, Scope.WRITE, Scope.ADMIN},
}
ROLE_SCOPE = {Role.VIEWER: Scope.READ, Role.EDITOR: Scope.WRITE, Role.ADMIN: Scope.ADMIN}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: always inside exactly one organization.

    `scopes` follow from the role (see `for_role`); API keys carry them directly.
    `team_ids` bounds where an editor writes: those teams and every team below them.
    None means the whole organization (admins, and API keys, whose `write` scope is an
    editor over every team).
    """

    organization_id: UUID
    scopes: frozenset[Scope]
    actor_id: UUID | str
    actor_name: str
    actor_type: str = "api_key"
    team_ids: frozenset[UUID] | None = None

    @classmethod
    def for_role(
        cls,
        role: Role,
        *,
        organization_id: UUID,
        actor_id: UUID | str,
        actor_name: str,
        actor_type: str,
        team_ids: frozenset[UUID] | None,
    ) -> "Principal":
        return cls(
            organization_id=organization_id,
            scopes=frozenset(_IMPLIED[ROLE_SCOPE[role]]),
            actor_id=actor_id,
            actor_name=actor_name,
            actor_type=actor_type,
            team_ids=None if role is Role.ADMIN else team_ids,
        )

    @property
    def role(self) -> Role:
        if Scope.ADMIN in self.scopes:
            return Role.ADMIN
        return Role.EDITOR if Scope.WRITE in self.scopes else Role.VIEWER

    @property
    def organization_wide(self) -> bool:
        """Whether its writes reach every team (not only some teams' subtrees)."""
        return self.team_ids is None

    def require(self, scope: Scope) -> None:
        if scope not in self.scopes:
            raise DomainError.single(
                None, f"This operation needs the '{scope}' scope.", ErrorCode.FORBIDDEN
            )

    def as_actor(self) -> dict[str, str]:
        return {"type": self.actor_type, "id": str(self.actor_id), "name": self.actor_name}


def hash_key(secret: str) -> str:
    # Keys are 256 random bits: a fast hash is safe, unlike with human passwords.
    return hashlib.sha256(secret.encode()).hexdigest()


def effective_scopes(scopes: list[str]) -> frozenset[Scope]:
    granted: set[Scope] = set()
    for scope in scopes:
        granted |= _IMPLIED[Scope(scope)]
    return frozenset(granted)


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
