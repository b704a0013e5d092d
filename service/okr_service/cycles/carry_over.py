"""Carrying unfinished objectives into the next cycle, without their history."""

from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.auth.access import authorize_team
from okr_service.cycles.models import Cycle
from okr_service.cycles.service import ensure_cycle_open, objectives_of
from okr_service.key_results import service as key_results
from okr_service.key_results.models import KeyResult
from okr_service.kit.errors import DomainError, ErrorCode
from okr_service.kit.principal import Principal, Scope
from okr_service.kit.repository import get_owned
from okr_service.objectives import service as objectives
from okr_service.objectives.models import Objective
from okr_service.okr import figures
from okr_service.okr.enums import ObjectiveState


async def carry_over_objectives(
    db: AsyncSession,
    actor: Principal,
    *,
    from_cycle_id: UUID,
    to_cycle_id: UUID,
    objective_ids: list[UUID] | None,
    now: datetime,
) -> tuple[list[Objective], list[UUID]]:
    """Copy unfinished objectives into the next cycle, without their history.

    Each copy keeps its origin and takes the key results not yet achieved, whose current
    value becomes the new baseline. Objectives with every key result achieved, cancelled
    ones, and those without key results left to pursue are skipped and returned as such.
    """
    actor.require(Scope.WRITE)
    org = actor.organization_id
    if from_cycle_id == to_cycle_id:
        raise DomainError.single(
            "toCycleId", "Carry over into another cycle.", ErrorCode.SELF_REFERENCE
        )
    await get_owned(db, Cycle, org, from_cycle_id, field="fromCycleId")
    target = await ensure_cycle_open(db, org, to_cycle_id, "toCycleId")
    sources = await objectives_of(db, org, from_cycle_id)
    if objective_ids is not None:
        missing = set(objective_ids) - {objective.id for objective in sources}
        if missing:
            raise DomainError.single(
                "objectiveIds",
                f"{len(missing)} of these objectives are not in the source cycle.",
                ErrorCode.NOT_FOUND,
            )
        sources = [objective for objective in sources if objective.id in set(objective_ids)]
    for team_id in {objective.team_id for objective in sources}:
        await authorize_team(db, actor, team_id)  # a copy belongs to its source's team
    unfinished: dict[UUID, list[KeyResult]] = {source.id: [] for source in sources}
    for kr in await objectives.key_results_of(db, org, list(unfinished)):
        if not figures.achieved(kr):
            unfinished[kr.objective_id].append(kr)
    copies, skipped = [], []
    for source in sources:
        if source.state is ObjectiveState.CANCELLED or not unfinished[source.id]:
            skipped.append(source.id)
            continue
        copy = await objectives.copy_objective(db, actor, source, target)
        for key_result in unfinished[source.id]:
            await key_results.carry_over(db, actor, key_result, copy, target, now)
        await objectives.announce_health(db, actor, copy, now)
        copies.append(copy)
    return copies, skipped
