from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.initiatives.models import Initiative, InitiativeKeyResult
from okr_service.key_results.models import KeyResult
from okr_service.kit.repository import Page, Window, equal_where_given, page, rows_grouped_by
from okr_service.kit.rows import Record
from okr_service.objectives.models import Objective
from okr_service.okr.enums import InitiativeStatus


async def links_of(
    db: AsyncSession, organization_id: UUID, initiative_ids: list[UUID]
) -> dict[UUID, list[Record]]:
    return await rows_grouped_by(
        db, InitiativeKeyResult, organization_id, "initiative_id", initiative_ids
    )


async def lock_objective_of(db: AsyncSession, organization_id: UUID, key_result_id: UUID) -> None:
    """Lock the key result's objective against other link changes until commit (FOR NO KEY
    UPDATE: rows referencing it may still be written)."""
    await db.execute(
        select(Objective.id)
        .join(
            KeyResult,
            (KeyResult.organization_id == Objective.organization_id)
            & (KeyResult.objective_id == Objective.id),
        )
        .where(KeyResult.organization_id == organization_id, KeyResult.id == key_result_id)
        .with_for_update(of=Objective, key_share=True)
    )


async def initiatives_of_objective(
    db: AsyncSession, organization_id: UUID, key_result_id: UUID, initiative_id: UUID
) -> tuple[int, bool]:
    """How many initiatives the key results of this key result's objective link to, and
    whether `initiative_id` is one of them."""
    siblings = (
        select(KeyResult.id)
        .where(
            KeyResult.organization_id == organization_id,
            KeyResult.objective_id
            == select(KeyResult.objective_id)
            .where(KeyResult.organization_id == organization_id, KeyResult.id == key_result_id)
            .scalar_subquery(),
        )
        .scalar_subquery()
    )
    link = InitiativeKeyResult
    count, linked = (
        await db.execute(
            select(
                func.count(link.initiative_id.distinct()),
                func.coalesce(func.bool_or(link.initiative_id == initiative_id), False),
            ).where(link.organization_id == organization_id, link.key_result_id.in_(siblings))
        )
    ).one()
    return int(count), bool(linked)


async def count_links_of(db: AsyncSession, organization_id: UUID, initiative_id: UUID) -> int:
    """How many key results the initiative is linked to."""
    found = await db.scalar(
        select(func.count()).where(
            InitiativeKeyResult.organization_id == organization_id,
            InitiativeKeyResult.initiative_id == initiative_id,
        )
    )
    return int(found or 0)


async def find_link(
    db: AsyncSession, organization_id: UUID, initiative_id: UUID, key_result_id: UUID
) -> InitiativeKeyResult | None:
    return (
        await db.execute(
            select(InitiativeKeyResult).where(
                InitiativeKeyResult.organization_id == organization_id,
                InitiativeKeyResult.initiative_id == initiative_id,
                InitiativeKeyResult.key_result_id == key_result_id,
            )
        )
    ).scalar_one_or_none()


async def list_initiatives(
    db: AsyncSession,
    organization_id: UUID,
    window: Window,
    *,
    team_id: UUID | None = None,
    status: InitiativeStatus | None = None,
    external_system: str | None = None,
    external_key: str | None = None,
) -> Page:
    filters = equal_where_given(
        (Initiative.team_id, team_id),
        (Initiative.status, status),
        (Initiative.external_system, external_system),
        (Initiative.external_key, external_key),
    )
    return await page(db, Initiative, organization_id, window, filters)
