"""All integration SQL: lookups, the delivery log, watermarks, and the initiatives a
provider object names."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.initiatives.models import Initiative
from okr_service.integrations.models import (
    CLAIMED_SQL,
    DeliveryOutcome,
    Integration,
    IntegrationDelivery,
    IntegrationWatermark,
    Provider,
)
from okr_service.kit.repository import Page, Window, equal_where_given, page
from okr_service.okr.enums import InitiativeStatus


async def find_integration(db: AsyncSession, integration_id: UUID) -> Integration | None:
    """Any organization's integration: the inbound route learns the tenant from it."""
    return await db.get(Integration, integration_id)


async def claim_delivery(
    db: AsyncSession, integration: Integration, provider_delivery_id: str
) -> UUID | None:
    """Record a verified delivery as received; None when that delivery id already was
    (a concurrent twin waits here for the first to commit, then finds it)."""
    statement = (
        insert(IntegrationDelivery)
        .values(
            organization_id=integration.organization_id,
            integration_id=integration.id,
            provider_delivery_id=provider_delivery_id,
            outcome=DeliveryOutcome.RECEIVED,
            http_status=202,
            initiative_ids=[],
        )
        .on_conflict_do_nothing(
            index_elements=["organization_id", "integration_id", "provider_delivery_id"],
            index_where=text(CLAIMED_SQL),  # the partial unique index's own predicate
        )
        .returning(IntegrationDelivery.id)
    )
    return (await db.execute(statement)).scalar_one_or_none()


async def settle_delivery(
    db: AsyncSession, organization_id: UUID, delivery_id: UUID, values: dict[str, Any]
) -> None:
    await db.execute(
        update(IntegrationDelivery)
        .where(
            IntegrationDelivery.organization_id == organization_id,
            IntegrationDelivery.id == delivery_id,
        )
        .values(**values, updated_at=func.now())
    )


async def add_rejection(db: AsyncSession, integration: Integration, values: dict[str, Any]) -> None:
    await db.execute(
        insert(IntegrationDelivery).values(
            organization_id=integration.organization_id,
            integration_id=integration.id,
            outcome=DeliveryOutcome.REJECTED,
            initiative_ids=[],
            **values,
        )
    )


async def matching_initiatives(
    db: AsyncSession,
    organization_id: UUID,
    provider: Provider,
    keys: Sequence[str],
) -> Sequence[Row[UUID, InitiativeStatus]]:
    """(id, status) of the initiatives whose externalRef names this provider and one of
    these keys (both compared without case), in key order: concurrent deliveries lock them
    alike."""
    rows = await db.execute(
        select(Initiative.id, Initiative.status)
        .where(
            Initiative.organization_id == organization_id,
            func.lower(Initiative.external_system) == provider.value,
            func.lower(Initiative.external_key).in_(list(keys)),
        )
        .order_by(Initiative.id)
    )
    return rows.all()


async def advance_watermark(
    db: AsyncSession,
    organization_id: UUID,
    provider: Provider,
    object_key: str,
    updated_at: datetime,
) -> bool:
    """Move the object's watermark to `updated_at` unless a newer version was applied:
    whether this delivery is current. Row-locked, so concurrent deliveries take turns."""
    statement = (
        insert(IntegrationWatermark)
        .values(
            organization_id=organization_id,
            provider=provider,
            object_key=object_key,
            provider_updated_at=updated_at,
        )
        .on_conflict_do_update(
            index_elements=["organization_id", "provider", "object_key"],
            set_={"provider_updated_at": updated_at, "updated_at": func.now()},
            where=IntegrationWatermark.provider_updated_at <= updated_at,
        )
        .returning(IntegrationWatermark.id)
    )
    return (await db.execute(statement)).first() is not None


async def prune_deliveries(db: AsyncSession, older_than: datetime) -> int:
    result = await db.execute(
        delete(IntegrationDelivery)
        .where(IntegrationDelivery.created_at < older_than)
        .returning(IntegrationDelivery.id)
    )
    return len(result.all())


async def list_deliveries(
    db: AsyncSession,
    organization_id: UUID,
    window: Window,
    *,
    integration_id: UUID | None = None,
    outcome: DeliveryOutcome | None = None,
) -> Page:
    filters = equal_where_given(
        (IntegrationDelivery.integration_id, integration_id),
        (IntegrationDelivery.outcome, outcome),
    )
    return await page(db, IntegrationDelivery, organization_id, window, filters)
