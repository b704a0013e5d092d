from collections.abc import Collection
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.alignment import repository
from okr_service.alignment.models import AlignmentLink
from okr_service.auth.access import authorize_team
from okr_service.cycles.service import ensure_key_result_cycle_open, ensure_objective_cycle_open
from okr_service.events import service as events
from okr_service.events.catalog import EventType
from okr_service.key_results.models import KeyResult
from okr_service.kit.errors import DomainError, ErrorCode
from okr_service.kit.principal import Principal, Scope
from okr_service.kit.repository import get_owned
from okr_service.objectives.models import Objective
from okr_service.okr.enums import AlignmentKind

TYPE_NAME = "AlignmentLink"
# Bounds that keep an objective's own lists short: the links it makes (`alignmentLinks`,
# `contributesTo`, `dependsOn`), and the RELATES_TO links at either end (`relatedTo`).
MAX_LINKS_FROM = 20
MAX_RELATED = 20


async def contributions_below(
    db: AsyncSession, organization_id: UUID, root_ids: Collection[UUID], max_depth: int
) -> list[tuple[UUID, UUID, UUID | None, int]]:
    """The contribution cascade below `root_ids`: (objective, parent objective, key result
    of the parent it supports, depth). One statement, whatever the depth."""
    if not root_ids:
        return []
    return await repository.contributions_below(db, organization_id, root_ids, max_depth)


async def create_alignment(
    db: AsyncSession,
    actor: Principal,
    *,
    kind: AlignmentKind,
    source_objective_id: UUID,
    target_objective_id: UUID | None,
    target_key_result_id: UUID | None,
) -> AlignmentLink:
    actor.require(Scope.WRITE)
    check_shape(kind, source_objective_id, target_objective_id, target_key_result_id)
    org = actor.organization_id
    source = await get_owned(db, Objective, org, source_objective_id, field="sourceObjectiveId")
    if target_objective_id is not None:
        await get_owned(db, Objective, org, target_objective_id, field="targetObjectiveId")
        parent_objective_id = target_objective_id
    else:
        assert target_key_result_id is not None
        key_result = await get_owned(
            db, KeyResult, org, target_key_result_id, field="targetKeyResultId"
        )
        parent_objective_id = key_result.objective_id
    if parent_objective_id == source_objective_id:
        raise DomainError.single(
            "targetKeyResultId",
            "An objective cannot align to its own key result.",
            ErrorCode.SELF_REFERENCE,
        )
    await authorize_team(db, actor, source.team_id)  # a link speaks for its source
    # Both ends: a link moves the rolled-up progress of its target and speaks for its source.
    await ensure_objective_cycle_open(db, org, source_objective_id, "sourceObjectiveId")
    target_field = "targetObjectiveId" if target_objective_id else "targetKeyResultId"
    await ensure_objective_cycle_open(db, org, parent_objective_id, target_field)
    # Serialises link creation per organization: no cycle can close between two concurrent
    # CONTRIBUTES_TO links, and no duplicate slips past the check below.
    await repository.lock_alignment_graph(db, org)
    if kind is AlignmentKind.CONTRIBUTES_TO and await repository.contributes_to(
        db, org, parent_objective_id, source_objective_id
    ):
        raise DomainError.single(
            "sourceObjectiveId",
            "This link would make the objective contribute to itself.",
            ErrorCode.ALIGNMENT_CYCLE,
        )
    if await repository.find_duplicate(
        db, org, kind, source_objective_id, target_objective_id, target_key_result_id
    ):
        raise DomainError.single(None, "This link already exists.", ErrorCode.DUPLICATE)
    await check_limits(db, org, kind, source_objective_id, target_objective_id)
    link = AlignmentLink(
        organization_id=org,
        kind=kind,
        source_objective_id=source_objective_id,
        target_objective_id=target_objective_id,
        target_key_result_id=target_key_result_id,
    )
    db.add(link)
    await db.flush()
    await events.record(db, actor, EventType.ALIGNMENT_CREATED, link, team_id=source.team_id)
    return link


async def check_limits(
    db: AsyncSession,
    organization_id: UUID,
    kind: AlignmentKind,
    source_objective_id: UUID,
    target_objective_id: UUID | None,
) -> None:
    """Refuse a link that would take an objective past MAX_LINKS_FROM links of its own, or
    either end of a RELATES_TO link past MAX_RELATED. Called under the graph lock, so two
    concurrent links cannot both take the last place."""
    if await repository.count_links_from(db, organization_id, source_objective_id) >= (
        MAX_LINKS_FROM
    ):
        raise DomainError.single(
            "sourceObjectiveId",
            f"An objective links to at most {MAX_LINKS_FROM} objectives or key results.",
            ErrorCode.LIMIT_REACHED,
        )
    if kind is not AlignmentKind.RELATES_TO:
        return
    assert target_objective_id is not None  # check_shape: RELATES_TO joins two objectives
    ends = {"sourceObjectiveId": source_objective_id, "targetObjectiveId": target_objective_id}
    for field, objective_id in ends.items():
        if await repository.count_related(db, organization_id, objective_id) >= MAX_RELATED:
            raise DomainError.single(
                field,
                f"An objective relates to at most {MAX_RELATED} objectives.",
                ErrorCode.LIMIT_REACHED,
            )


def check_shape(
    kind: AlignmentKind,
    source_objective_id: UUID,
    target_objective_id: UUID | None,
    target_key_result_id: UUID | None,
) -> None:
    if (target_objective_id is None) == (target_key_result_id is None):
        raise DomainError.single(
            None,
            "Give exactly one of targetObjectiveId and targetKeyResultId.",
            ErrorCode.INVALID_TARGET,
        )
    if target_key_result_id is not None and kind is not AlignmentKind.CONTRIBUTES_TO:
        raise DomainError.single(
            "targetKeyResultId",
            f"A {kind} link connects two objectives.",
            ErrorCode.INVALID_TARGET,
        )
    if target_objective_id == source_objective_id:
        raise DomainError.single(
            "targetObjectiveId", "An objective cannot align to itself.", ErrorCode.SELF_REFERENCE
        )


async def delete_alignment(db: AsyncSession, actor: Principal, link_id: UUID) -> AlignmentLink:
    actor.require(Scope.WRITE)
    link = await get_owned(
        db, AlignmentLink, actor.organization_id, link_id, field="id", for_update=True
    )
    source = await get_owned(
        db, Objective, actor.organization_id, link.source_objective_id, field="id"
    )
    await authorize_team(db, actor, source.team_id)  # a link speaks for its source
    await ensure_objective_cycle_open(db, actor.organization_id, source.id, "id")
    if link.target_objective_id is not None:
        await ensure_objective_cycle_open(db, actor.organization_id, link.target_objective_id, "id")
    elif link.target_key_result_id is not None:
        await ensure_key_result_cycle_open(
            db, actor.organization_id, link.target_key_result_id, "id"
        )
    await events.delete(db, actor, link, team_id=source.team_id)
    return link


# Reads the GraphQL layer asks for: pages, and batches behind its loaders.
list_links = repository.list_links
links_from = repository.links_from
links_to_objective = repository.links_to_objective
links_to_key_result = repository.links_to_key_result
CONTRIBUTORS = repository.CONTRIBUTORS
KEY_RESULT_CONTRIBUTORS = repository.KEY_RESULT_CONTRIBUTORS
DEPENDENTS = repository.DEPENDENTS
INCOMING_LINKS = repository.INCOMING_LINKS
