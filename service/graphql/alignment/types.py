from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Self
from uuid import UUID

import strawberry
from strawberry import relay

from service.alignment import service
from service.alignment.models import AlignmentLink as AlignmentLinkModel
from service.graphql.context import Info
from service.graphql.mutations import Payload
from service.graphql.nodes import ModelNode
from service.okr.enums import AlignmentKind

if TYPE_CHECKING:
    from service.graphql.key_results.types import KeyResult
    from service.graphql.objectives.types import Objective

strawberry.enum(AlignmentKind)

ObjectiveRef = Annotated["Objective", strawberry.lazy("service.graphql.objectives.types")]
KeyResultRef = Annotated["KeyResult", strawberry.lazy("service.graphql.key_results.types")]


@strawberry.type(
    description="How OKRs connect: an objective points at an objective or a key result."
)
class AlignmentLink(ModelNode):
    model = AlignmentLinkModel

    id: relay.NodeID[UUID]
    kind: AlignmentKind
    created_at: datetime
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
        from service.graphql.objectives.types import Objective

        return await Objective.load_required(info, self.source_id)

    @strawberry.field
    async def target_objective(self, info: Info) -> ObjectiveRef | None:
        from service.graphql.objectives.types import Objective

        return await Objective.load(info, self.target_objective_id)

    @strawberry.field
    async def target_key_result(self, info: Info) -> KeyResultRef | None:
        from service.graphql.key_results.types import KeyResult

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


@strawberry.input
class CreateAlignmentInput:
    source_objective_id: strawberry.ID
    kind: AlignmentKind = AlignmentKind.CONTRIBUTES_TO
    target_objective_id: strawberry.ID | None = None
    target_key_result_id: strawberry.ID | None = None


@strawberry.input
class DeleteAlignmentInput:
    id: strawberry.ID


@strawberry.type
class CreateAlignmentPayload(Payload):
    alignment: AlignmentLink | None = None


@strawberry.type
class DeleteAlignmentPayload(Payload):
    alignment: AlignmentLink | None = None
    deleted_alignment_id: strawberry.ID | None = None
