"""Managing API keys: issued by admins, shown once, revocable, optionally expiring."""

from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.auth.models import ApiKey
from okr_service.auth.revocations import announce_key_change
from okr_service.auth.service import PrincipalCache, create_api_key, is_expired
from okr_service.events import service as events
from okr_service.events.catalog import EventType
from okr_service.kit.errors import ErrorCode
from okr_service.kit.principal import Principal, Scope
from okr_service.kit.repository import get_owned
from okr_service.kit.validation import Problems


async def issue_api_key(
    db: AsyncSession,
    actor: Principal,
    *,
    name: str,
    scopes: list[Scope],
    expires_at: datetime | None,
) -> tuple[ApiKey, str]:
    """A new key for the caller's organization; its secret is shown once, never stored."""
    actor.require(Scope.ADMIN)
    problems = Problems()
    name = problems.name("name", name) or ""
    if not scopes:
        problems.add("scopes", "Give at least one scope.", ErrorCode.REQUIRED)
    if problems.moment("expiresAt", expires_at) and is_expired(expires_at):
        problems.add("expiresAt", "Must be a future time.", ErrorCode.INVALID_VALUE)
    problems.raise_if_any()
    key, secret = await create_api_key(db, actor.organization_id, name, sorted(set(scopes)))
    key.expires_at = expires_at
    await db.flush()
    await events.record_created(db, actor, key, EventType.API_KEY_CREATED)
    return key, secret


async def revoke_api_key(
    db: AsyncSession, actor: Principal, key_id: UUID, cache: PrincipalCache | None
) -> ApiKey:
    """Stop a key at once in this process, and in every other one when `db` commits."""
    actor.require(Scope.ADMIN)
    key = await get_owned(db, ApiKey, actor.organization_id, key_id, field="id", for_update=True)
    if key.revoked_at is None:
        await events.apply_update(
            db, actor, key, EventType.API_KEY_UPDATED, {"revoked_at": datetime.now(UTC)}
        )
        await announce_key_change(db, key.key_hash)
    if cache is not None:
        cache.forget(key.key_hash)
    return key


async def owner_of_key(db: AsyncSession, key_id: UUID) -> UUID | None:
    """The organization of key `key_id`, None when there is none. For the operator's
    command line (`revoke-api-key <id>`), which names a key without its organization."""
    owner: UUID | None = await db.scalar(select(ApiKey.organization_id).where(ApiKey.id == key_id))
    return owner


async def revoke_keys_named(db: AsyncSession, actor: Principal, name: str) -> int:
    """Revoke every working key of the actor's organization called `name`; how many."""
    key_ids = (
        await db.scalars(
            select(ApiKey.id).where(
                ApiKey.organization_id == actor.organization_id,
                ApiKey.name == name,
                ApiKey.revoked_at.is_(None),
            )
        )
    ).all()
    for key_id in key_ids:
        await revoke_api_key(db, actor, key_id, None)
    return len(key_ids)
