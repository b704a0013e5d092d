"""The cascade below an objective, with progress at every level, in a fixed number of
statements: one recursive query for the shape, then one batch per relation. Progress is
the objectives' own (`Objective.progress`): one roll-up, in the objectives' service."""

import asyncio
from collections import defaultdict
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import strawberry

from service.alignment import service as alignment
from service.graphql.context import Info

if TYPE_CHECKING:
    from service.graphql.key_results.types import KeyResult
    from service.graphql.objectives.types import Objective

ObjectiveRef = Annotated["Objective", strawberry.lazy("service.graphql.objectives.types")]
KeyResultRef = Annotated["KeyResult", strawberry.lazy("service.graphql.key_results.types")]
MAX_DEPTH = 10


@strawberry.type(description="An objective in an alignment cascade, and what contributes to it.")
class AlignmentTreeNode:
    objective: ObjectiveRef = strawberry.field(description="The objective at this place.")
    depth: int = strawberry.field(description="0 for the root.")
    progress: float | None = strawberry.field(
        description="The objective's progress, rolled up as its mode asks (as its `progress`)."
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
    from service.graphql.objectives.types import Objective, key_results_of, objective_figures

    depth = max(0, min(depth, MAX_DEPTH))
    edges = await info.context.run(
        lambda db: alignment.contributions_below(
            db, info.context.principal.organization_id, [root_id], depth
        )
    )
    ids = list(dict.fromkeys([root_id, *(child for child, _, _, _ in edges)]))
    objectives = {o.id: o for o in await Objective.load_many(info, ids)}
    if root_id not in objectives:
        return None
    key_results, found = await asyncio.gather(
        asyncio.gather(*(key_results_of(info, id_) for id_ in ids)),
        objective_figures(info).load_many(ids),
    )
    own_key_results = dict(zip(ids, key_results, strict=True))
    progress = {id_: figures.progress for id_, figures in zip(ids, found, strict=True)}
    children: dict[UUID, list[tuple[UUID, UUID | None]]] = defaultdict(list)
    for child, parent, via, _ in edges:
        children[parent].append((child, via))

    def build(
        objective_id: UUID, level: int, via: "KeyResult | None", path: frozenset[UUID]
    ) -> AlignmentTreeNode:
        own = {key_result.id: key_result for key_result in own_key_results[objective_id]}
        below = [
            build(
                child, level + 1, own.get(child_via) if child_via else None, path | {objective_id}
            )
            for child, child_via in children.get(objective_id, [])
            if child not in path and child in objectives
        ]
        return AlignmentTreeNode(
            objective=objectives[objective_id],
            depth=level,
            progress=progress[objective_id],
            via=via,
            children=below if level < depth else [],
        )

    return build(root_id, 0, None, frozenset())
