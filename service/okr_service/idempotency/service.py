"""Idempotent retries for machine clients: the same key and body get the first answer."""

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.idempotency.models import IdempotencyKey

MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(Exception):
    """The key was used before with another request body."""


def request_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


async def claim(
    db: AsyncSession,
    organization_id: UUID,
    key: str,
    body_hash: str,
    retention: timedelta,
) -> dict[str, Any] | None:
    """Claim `key` for this request, or return the response of the request that used it.

    A concurrent request with the same key waits on the unique index until the first one
    commits (then replays its answer) or rolls back (then claims the key itself).
    """
    claimed = await db.execute(
        insert(IdempotencyKey)
        .values(organization_id=organization_id, key=key, request_hash=body_hash)
        .on_conflict_do_nothing(index_elements=["organization_id", "key"])
        .returning(IdempotencyKey.id)
    )
    if claimed.first() is not None:
        return None
    earlier = (
        await db.execute(
            select(IdempotencyKey).where(
                IdempotencyKey.organization_id == organization_id, IdempotencyKey.key == key
            )
        )
    ).scalar_one()
    if earlier.created_at < datetime.now(UTC) - retention:
        await db.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.id == earlier.id)
            .values(request_hash=body_hash, response=None, created_at=datetime.now(UTC))
        )
        return None
    if earlier.request_hash != body_hash:
        raise IdempotencyKeyReused
    return earlier.response


async def remember(
    db: AsyncSession, organization_id: UUID, key: str, response: dict[str, Any]
) -> None:
    await db.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.organization_id == organization_id, IdempotencyKey.key == key)
        .values(response=response)
    )
