from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.initiatives.models import Initiative, InitiativeKeyResult
from service.kit.repository import Page, Window, equal_where_given, page, rows_grouped_by
from service.kit.rows import Record
from service.okr.enums import InitiativeStatus


async def links_of(
    db: AsyncSession, organization_id: UUID, initiative_ids: list[UUID]
) -> dict[UUID, list[Record]]:
    return await rows_grouped_by(
        db, InitiativeKeyResult, organization_id, "initiative_id", initiative_ids
    )


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
