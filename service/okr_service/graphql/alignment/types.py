from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Self
from uuid import UUID

import strawberry
from strawberry import relay

from okr_service.alignment import service
from okr_service.alignment.models import AlignmentLink as AlignmentLinkModel
from okr_service.graphql.context import Info
from okr_service.graphql.mutations import Payload, changed
from okr_service.graphql.nodes import CREATED, ModelNode
from okr_service.okr.enums import AlignmentKind

if TYPE_CHECKING:
    from okr_service.graphql.key_results.types import KeyResult
    from okr_service.graphql.objectives.types import Objective


ObjectiveRef = Annotated["Objective", strawberry.lazy("okr_service.graphql.objectives.types")]
KeyResultRef = Annotated["KeyResult", strawberry.lazy("okr_service.graphql.key_results.types")]


@strawberry.type(
    description="How OKRs connect: an objective points at an objective or a key result."
)
class AlignmentLink(ModelNode):
    model = AlignmentLinkModel

    id: relay.NodeID[UUID]
    kind: AlignmentKind = strawberry.field(description="How the source relates to the target.")
    created_at: datetime = strawberry.field(description=CREATED)
    source_id: strawberry.Private[UUID]
    target_objective_id: strawberry.Private[UUID | None]
    target_key_result_id: strawberry.Private[UUID | None]

    row: strawberry.Private[Any]  # what it was read from (the compiled reads use it)

    @classmethod
    def from_row(cls, row: Any) -> Self:
        return cls(
            id=row.id,
            kind=row.kind,
            created_at=row.created_at,
            source_id=row.source_objective_id,
            target_objective_id=row.target_objective_id,
            target_key_result_id=row.target_key_result_id,
            row=row,
        )

    @strawberry.field(description="The objective that contributes, relates or depends.")
    async def source(self, info: Info) -> ObjectiveRef:
        from okr_service.graphql.objectives.types import Objective

        return await Objective.load_required(info, self.source_id)

    @strawberry.field(description="The objective pointed at; null when the target is a key result.")
    async def target_objective(self, info: Info) -> ObjectiveRef | None:
        from okr_service.graphql.objectives.types import Objective

        return await Objective.load(info, self.target_objective_id)

    @strawberry.field(
        description="The key result pointed at (CONTRIBUTES_TO only); null when the target is "
        "an objective."
    )
    async def target_key_result(self, info: Info) -> KeyResultRef | None:
        from okr_service.graphql.key_results.types import KeyResult

        return await KeyResult.load(info, self.target_key_result_id)


async def links_from(info: Info, objective_id: UUID) -> list[AlignmentLink]:
    rows = await info.context.loader(service.links_from, default=list).load(objective_id)
    return [AlignmentLink.from_row(row) for row in rows]


async def links_to_objective(info: Info, objective_id: UUID) -> list[AlignmentLink]:
    rows = await info.context.loader(service.links_to_objective, default=list).load(objective_id)
    return [AlignmentLink.from_row(row) for row in rows]


async def links_to_key_result(info: Info, key_result_id: UUID) -> list[AlignmentLink]:
    rows = await info.context.loader(service.links_to_key_result, default=list).load(key_result_id)
    return [AlignmentLink.from_row(row) for row in rows]


@strawberry.input(
    description="A link from an objective to one target: an objective or a key result."
)
class CreateAlignmentInput:
    source_objective_id: strawberry.ID = strawberry.field(
        description="The global ID of the objective that contributes, relates or depends."
    )
    kind: AlignmentKind = strawberry.field(
        default=AlignmentKind.CONTRIBUTES_TO, description="How it relates to the target."
    )
    target_objective_id: strawberry.ID | None = strawberry.field(
        default=None, description="The global ID of the objective pointed at (or a key result)."
    )
    target_key_result_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The global ID of the key result supported (CONTRIBUTES_TO only).",
    )


@strawberry.input(description="The link to remove.")
class DeleteAlignmentInput:
    id: strawberry.ID = strawberry.field(description="The global ID of the alignment link.")


@strawberry.type(description="The result of `createAlignment`.")
class CreateAlignmentPayload(Payload):
    alignment: AlignmentLink | None = changed("The new link")


@strawberry.type(description="The result of `deleteAlignment`.")
class DeleteAlignmentPayload(Payload):
    alignment: AlignmentLink | None = changed("The link as it was before removal")
    deleted_alignment_id: strawberry.ID | None = changed(
        "The global ID of the removed link, to drop it from client caches"
    )
