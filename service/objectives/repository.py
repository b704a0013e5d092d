from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import Row, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from service.initiatives.models import Initiative, InitiativeKeyResult
from service.key_results.models import KeyResult
from service.kit.repository import rows_grouped_by
from service.objectives.models import Objective


async def key_results_of(
    db: AsyncSession, organization_id: UUID, objective_ids: list[UUID]
) -> dict[UUID, list[Row[Any]]]:
    return await rows_grouped_by(db, KeyResult, organization_id, "objective_id", objective_ids)


async def initiatives_of(
    db: AsyncSession, organization_id: UUID, objective_ids: list[UUID]
) -> dict[UUID, list[Row[Any]]]:
    """Initiatives linked to any key result of each objective, each listed once."""
    initiative = Initiative.__table__
    statement = (
        select(KeyResult.objective_id.label("objective_id"), initiative)
        .ext(distinct_on(KeyResult.objective_id, initiative.c.id))
        .join(
            InitiativeKeyResult,
            (InitiativeKeyResult.organization_id == initiative.c.organization_id)
            & (InitiativeKeyResult.initiative_id == initiative.c.id),
        )
        .join(
            KeyResult,
            (KeyResult.organization_id == InitiativeKeyResult.organization_id)
            & (KeyResult.id == InitiativeKeyResult.key_result_id),
        )
        .where(
            initiative.c.organization_id == organization_id,
            KeyResult.objective_id.in_(objective_ids),
        )
        .order_by(KeyResult.objective_id, initiative.c.id)
    )
    groups: dict[UUID, list[Row[Any]]] = {key: [] for key in objective_ids}
    for row in await db.execute(statement):
        groups[row.objective_id].append(row)
    return groups


async def objective_team(
    db: AsyncSession, organization_id: UUID, objective_id: UUID
) -> UUID | None:
    found: UUID | None = await db.scalar(
        select(Objective.team_id).where(
            Objective.organization_id == organization_id, Objective.id == objective_id
        )
    )
    return found


async def key_results_of_objectives(
    db: AsyncSession, organization_id: UUID, objective_ids: Sequence[UUID]
) -> Sequence[KeyResult]:
    """The key results of these objectives, as entities, in one statement."""
    return (
        await db.scalars(
            select(KeyResult)
            .where(
                KeyResult.organization_id == organization_id,
                KeyResult.objective_id.in_(objective_ids),
            )
            .order_by(KeyResult.id)
        )
    ).all()
