"""The cascade below an objective, with progress at every level, in a fixed number of
statements: one recursive query for the shape, then one batch per relation. Progress is
the objectives' own (`Objective.progress`): one roll-up, in the objectives' service."""

import asyncio
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import strawberry

from okr_service.alignment import service as alignment
from okr_service.graphql.context import Info

if TYPE_CHECKING:
    from okr_service.graphql.key_results.types import KeyResult
    from okr_service.graphql.objectives.types import Objective

ObjectiveRef = Annotated["Objective", strawberry.lazy("okr_service.graphql.objectives.types")]
KeyResultRef = Annotated["KeyResult", strawberry.lazy("okr_service.graphql.key_results.types")]
MAX_DEPTH = 10
# The most nodes one tree answers with (an objective under many parents takes a place
# under each: without a cap, a few hundred links could make a tree of millions).
MAX_NODES = 500


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
        description="Objectives contributing to this one or to one of its key results. The "
        f"whole tree holds at most {MAX_NODES} nodes, filled level by level: see `truncated`."
    )
    truncated: bool = strawberry.field(
        description=f"True when contributors of this objective were left out to keep the tree "
        f"within {MAX_NODES} nodes; `alignmentTree(rootId:)` on this objective shows them."
    )

    @strawberry.field(description="The key result of the parent this objective supports.")
    def via_key_result(self) -> KeyResultRef | None:
        found: KeyResult | None = self.via
        return found


@dataclass
class Place:
    """A place in the tree before its objective is read: an objective can take many places
    (one per path from the root), which is why the tree, not the graph, is capped."""

    objective_id: UUID
    level: int
    via_id: UUID | None
    path: frozenset[UUID]  # the objectives above it
    children: list["Place"] = field(default_factory=list)
    truncated: bool = False


def lay_out(
    root_id: UUID, depth: int, below: dict[UUID, list[tuple[UUID, UUID | None]]], max_nodes: int
) -> tuple[Place, list[Place]]:
    """The tree's places, breadth first, until `max_nodes` places are taken: the levels
    near the root are whole before a deeper one starts. Returns the root and every place."""
    root = Place(root_id, 0, None, frozenset())
    places, queue = [root], deque([root])
    while queue:
        place = queue.popleft()
        if place.level >= depth:
            continue
        path = place.path | {place.objective_id}
        for child, via in below.get(place.objective_id, []):
            if child in path:
                continue
            if len(places) >= max_nodes:
                place.truncated = True
                break
            found = Place(child, place.level + 1, via, path)
            place.children.append(found)
            places.append(found)
            queue.append(found)
    return root, places


async def alignment_tree(info: Info, root_id: UUID, depth: int) -> AlignmentTreeNode | None:
    from okr_service.graphql.objectives.types import Objective, key_results_of, objective_figures

    depth = max(0, min(depth, MAX_DEPTH))
    edges = await info.context.run(
        lambda db: alignment.contributions_below(
            db, info.context.principal.organization_id, [root_id], depth
        )
    )
    below: dict[UUID, list[tuple[UUID, UUID | None]]] = defaultdict(list)
    for child, parent, via, _ in edges:
        below[parent].append((child, via))
    root, places = lay_out(root_id, depth, below, MAX_NODES)
    # Only the objectives the capped tree shows are read.
    ids = list(dict.fromkeys(place.objective_id for place in places))
    objectives = {o.id: o for o in await Objective.load_many(info, ids)}
    if root_id not in objectives:
        return None
    key_results, found = await asyncio.gather(
        asyncio.gather(*(key_results_of(info, id_) for id_ in ids)),
        objective_figures(info).load_many(ids),
    )
    own_key_results = {
        id_: {key_result.id: key_result for key_result in group}
        for id_, group in zip(ids, key_results, strict=True)
    }
    progress = {id_: figures.progress for id_, figures in zip(ids, found, strict=True)}

    def build(place: Place, parent_id: UUID | None) -> AlignmentTreeNode:
        via = None
        if parent_id is not None and place.via_id is not None:
            via = own_key_results[parent_id].get(place.via_id)
        return AlignmentTreeNode(
            objective=objectives[place.objective_id],
            depth=place.level,
            progress=progress[place.objective_id],
            via=via,
            children=[
                build(child, place.objective_id)
                for child in place.children
                if child.objective_id in objectives
            ],
            truncated=place.truncated,
        )

    return build(root, None)
