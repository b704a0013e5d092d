"""The cascade below an objective, with progress at every level, in a fixed number of
statements: one recursive query for the shape, then one batch per relation."""

import asyncio
from collections import defaultdict
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import strawberry

from service.graphql.context import Info
from service.okr import figures
from service.okr.enums import ProgressMode
from service.reports.repository import contribution_tree

if TYPE_CHECKING:
    from service.key_results.types import KeyResult
    from service.objectives.types import Objective

ObjectiveRef = Annotated["Objective", strawberry.lazy("service.objectives.types")]
KeyResultRef = Annotated["KeyResult", strawberry.lazy("service.key_results.types")]
MAX_DEPTH = 10


@strawberry.type(description="An objective in an alignment cascade, and what contributes to it.")
class AlignmentTreeNode:
    objective: ObjectiveRef
    depth: int = strawberry.field(description="0 for the root.")
    progress: float | None = strawberry.field(
        description="The objective's progress, rolled up from the tree as its mode asks."
    )
    # The supported key result, taken from its parent's key results (already loaded):
    # loading it per node would cost one statement per level of the tree.
    via: strawberry.Private[Any]
    children: list["AlignmentTreeNode"] = strawberry.field(
        description="Objectives contributing to this one or to one of its key results."
    )

    @strawberry.field(description="The key result of the parent this objective supports.")
    def via_key_result(self) -> KeyResultRef | None:
        found: KeyResult | None = self.via
        return found


async def alignment_tree(info: Info, root_id: UUID, depth: int) -> AlignmentTreeNode | None:
    from service.objectives.types import Objective, key_results_of

    depth = max(0, min(depth, MAX_DEPTH))
    edges = await info.context.run(
        lambda db: contribution_tree(db, info.context.principal.organization_id, root_id, MAX_DEPTH)
    )
    ids = list(dict.fromkeys([root_id, *(child for child, _, _, _ in edges)]))
    objectives = {o.id: o for o in await Objective.load_many(info, ids)}
    if root_id not in objectives:
        return None
    key_results = dict(
        zip(ids, await asyncio.gather(*(key_results_of(info, id_) for id_ in ids)), strict=True)
    )
    children: dict[UUID, list[tuple[UUID, UUID | None]]] = defaultdict(list)
    for child, parent, via, _ in edges:
        children[parent].append((child, via))

    def build(
        objective_id: UUID, level: int, via: "KeyResult | None", path: frozenset[UUID]
    ) -> AlignmentTreeNode:
        objective = objectives[objective_id]
        own = {key_result.id: key_result for key_result in key_results[objective_id]}
        below = [
            build(
                child, level + 1, own.get(child_via) if child_via else None, path | {objective_id}
            )
            for child, child_via in children.get(objective_id, [])
            if child not in path and child in objectives
        ]
        # An objective supporting several key results of this one is shown under each,
        # but rolls up once, as in Objective.progress.
        distinct = {node.objective.id: node.progress for node in below}
        aligned = [found for found in distinct.values() if found is not None]
        mode = objective.progress_mode
        return AlignmentTreeNode(
            objective=objective,
            depth=level,
            progress=figures.objective_progress_of(
                key_results[objective_id],
                mode,
                aligned if mode is not ProgressMode.KEY_RESULTS else (),
            ),
            via=via,
            children=below if level < depth else [],
        )

    return build(root_id, 0, None, frozenset())
