from collections.abc import Collection, Sequence
from uuid import UUID

from sqlalchemy import CTE, Uuid, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.alignment.models import AlignmentLink
from okr_service.key_results.models import KeyResult
from okr_service.kit.repository import (
    ChildRows,
    LinkedRows,
    Page,
    PairSelect,
    Window,
    equal_where_given,
    lock_organization,
    page,
    rows_grouped_by,
)
from okr_service.kit.rows import Record
from okr_service.objectives.models import Objective
from okr_service.okr.enums import AlignmentKind


async def lock_alignment_graph(db: AsyncSession, organization_id: UUID) -> None:
    """Serialise link creation in one organization: no cycle and no duplicate can slip in
    between two concurrent links that were each fine alone."""
    await lock_organization(db, organization_id, "alignment")


def _contribution_edges(organization_id: UUID) -> CTE:
    """The organization's CONTRIBUTES_TO edges as (child objective, parent objective, key
    result of the parent it supports or NULL): a link to a key result leads to that key
    result's objective. The one definition of the contribution graph's edges."""
    parent_objective = func.coalesce(AlignmentLink.target_objective_id, KeyResult.objective_id)
    return (
        select(
            AlignmentLink.source_objective_id.label("child"),
            parent_objective.label("parent"),
            AlignmentLink.target_key_result_id.label("via"),
        )
        .outerjoin(
            KeyResult,
            (KeyResult.organization_id == AlignmentLink.organization_id)
            & (KeyResult.id == AlignmentLink.target_key_result_id),
        )
        .where(
            AlignmentLink.organization_id == organization_id,
            AlignmentLink.kind == AlignmentKind.CONTRIBUTES_TO,
        )
        .cte("edges")
    )


def contributor_pairs(organization_id: UUID, objective_ids: Sequence[UUID]) -> PairSelect:
    """(objective, objective contributing to it or to one of its key results), each once."""
    edges = _contribution_edges(organization_id)
    return (
        select(edges.c.parent.label("parent"), edges.c.child.label("member"))
        .where(edges.c.parent.in_(list(objective_ids)))
        .distinct()
    )


def key_result_contributor_pairs(
    organization_id: UUID, key_result_ids: Sequence[UUID]
) -> PairSelect:
    """(key result, objective contributing to it)."""
    return select(
        AlignmentLink.target_key_result_id.label("parent"),
        AlignmentLink.source_objective_id.label("member"),
    ).where(
        AlignmentLink.organization_id == organization_id,
        AlignmentLink.kind == AlignmentKind.CONTRIBUTES_TO,
        AlignmentLink.target_key_result_id.in_(list(key_result_ids)),
    )


def dependent_pairs(organization_id: UUID, objective_ids: Sequence[UUID]) -> PairSelect:
    """(objective, objective that depends on it)."""
    return select(
        AlignmentLink.target_objective_id.label("parent"),
        AlignmentLink.source_objective_id.label("member"),
    ).where(
        AlignmentLink.organization_id == organization_id,
        AlignmentLink.kind == AlignmentKind.DEPENDS_ON,
        AlignmentLink.target_objective_id.in_(list(objective_ids)),
    )


# The reverse sides of the graph: lists that grow with the organization, read a page at a
# time. Links are unique per (source, kind, target), so each pair comes once.
CONTRIBUTORS = LinkedRows(Objective, contributor_pairs)
KEY_RESULT_CONTRIBUTORS = LinkedRows(Objective, key_result_contributor_pairs)
DEPENDENTS = LinkedRows(Objective, dependent_pairs)
INCOMING_LINKS = ChildRows(AlignmentLink, "target_objective_id")


async def contributes_to(db: AsyncSession, organization_id: UUID, start: UUID, goal: UUID) -> bool:
    """Whether objective `start` already contributes, directly or not, to objective `goal`:
    one recursive statement walking up the contribution edges."""
    edges = _contribution_edges(organization_id)
    # Typed explicitly: a UUID read from a row is asyncpg's own class, which `literal` would
    # not recognise, leaving PostgreSQL to guess `text` for the column.
    reachable = select(literal(start, Uuid).label("objective_id")).cte("reachable", recursive=True)
    reachable = reachable.union(
        select(edges.c.parent).where(edges.c.child == reachable.c.objective_id)
    )
    found = await db.execute(select(literal(True)).where(reachable.c.objective_id == goal).limit(1))
    return found.scalar_one_or_none() is not None


async def contributions_below(
    db: AsyncSession, organization_id: UUID, root_ids: Collection[UUID], max_depth: int
) -> list[tuple[UUID, UUID, UUID | None, int]]:
    """Every contribution edge below `root_ids`, to `max_depth` levels, in one recursive
    statement: (objective, parent objective, key result it supports, depth below a root).

    An objective reachable along several paths appears once per parent, at its shallowest
    depth for each.
    """
    edges = _contribution_edges(organization_id)
    tree = (
        select(edges.c.child, edges.c.parent, edges.c.via, literal(1).label("depth"))
        .where(edges.c.parent.in_(list(root_ids)))
        .cte("tree", recursive=True)
    )
    # UNION, not UNION ALL: an objective reached along many paths (several parents each)
    # is walked once per depth, not once per path (paths multiply with every level).
    tree = tree.union(
        select(edges.c.child, edges.c.parent, edges.c.via, tree.c.depth + 1).where(
            edges.c.parent == tree.c.child, tree.c.depth < max_depth
        )
    )
    rows = await db.execute(
        select(tree.c.child, tree.c.parent, tree.c.via, func.min(tree.c.depth))
        .group_by(tree.c.child, tree.c.parent, tree.c.via)
        .order_by(func.min(tree.c.depth), tree.c.child, tree.c.via)
    )
    return [(child, parent, via, depth) for child, parent, via, depth in rows]


async def links_from(
    db: AsyncSession, organization_id: UUID, objective_ids: list[UUID]
) -> dict[UUID, list[Record]]:
    return await rows_grouped_by(
        db, AlignmentLink, organization_id, "source_objective_id", objective_ids
    )


async def links_to_objective(
    db: AsyncSession, organization_id: UUID, objective_ids: list[UUID]
) -> dict[UUID, list[Record]]:
    return await rows_grouped_by(
        db, AlignmentLink, organization_id, "target_objective_id", objective_ids
    )


async def links_to_key_result(
    db: AsyncSession, organization_id: UUID, key_result_ids: list[UUID]
) -> dict[UUID, list[Record]]:
    return await rows_grouped_by(
        db, AlignmentLink, organization_id, "target_key_result_id", key_result_ids
    )


async def find_duplicate(
    db: AsyncSession,
    organization_id: UUID,
    kind: AlignmentKind,
    source_objective_id: UUID,
    target_objective_id: UUID | None,
    target_key_result_id: UUID | None,
) -> bool:
    found = await db.execute(
        select(AlignmentLink.id).where(
            AlignmentLink.organization_id == organization_id,
            AlignmentLink.kind == kind,
            AlignmentLink.source_objective_id == source_objective_id,
            AlignmentLink.target_objective_id.is_not_distinct_from(target_objective_id),
            AlignmentLink.target_key_result_id.is_not_distinct_from(target_key_result_id),
        )
    )
    return found.first() is not None


async def count_links_from(db: AsyncSession, organization_id: UUID, objective_id: UUID) -> int:
    """How many links the objective makes, of every kind."""
    found = await db.scalar(
        select(func.count()).where(
            AlignmentLink.organization_id == organization_id,
            AlignmentLink.source_objective_id == objective_id,
        )
    )
    return int(found or 0)


async def count_related(db: AsyncSession, organization_id: UUID, objective_id: UUID) -> int:
    """How many RELATES_TO links the objective is at either end of."""
    found = await db.scalar(
        select(func.count()).where(
            AlignmentLink.organization_id == organization_id,
            AlignmentLink.kind == AlignmentKind.RELATES_TO,
            or_(
                AlignmentLink.source_objective_id == objective_id,
                AlignmentLink.target_objective_id == objective_id,
            ),
        )
    )
    return int(found or 0)


async def list_links(
    db: AsyncSession, organization_id: UUID, window: Window, *, kind: AlignmentKind | None = None
) -> Page:
    filters = equal_where_given((AlignmentLink.kind, kind))
    return await page(db, AlignmentLink, organization_id, window, filters)
