from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.alignment import service
from okr_service.graphql.alignment.tree import AlignmentTreeNode, alignment_tree
from okr_service.graphql.alignment.types import (
    AlignmentLink,
    CreateAlignmentInput,
    CreateAlignmentPayload,
    DeleteAlignmentInput,
    DeleteAlignmentPayload,
)
from okr_service.graphql.context import Info
from okr_service.graphql.mutations import input_argument, mutate
from okr_service.graphql.nodes import After, Connection, First, connection
from okr_service.kit.ids import optional_id, parse_global_id
from okr_service.kit.principal import Principal
from okr_service.kit.repository import Page, Window
from okr_service.okr.enums import AlignmentKind


@strawberry.type
class AlignmentQuery:
    @strawberry.field(description="Alignment links in creation order, optionally of one kind.")
    async def alignment_links(
        self,
        info: Info,
        kind: Annotated[
            AlignmentKind | None, strawberry.argument(description="Only links of this kind.")
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[AlignmentLink]:
        organization_id = info.context.principal.organization_id

        async def fetch(db: AsyncSession, window: Window) -> Page:
            return await service.list_links(db, organization_id, window, kind=kind)

        return await connection(info, AlignmentLink, first=first, after=after, fetch=fetch)

    @strawberry.field(
        description="The cascade of objectives contributing to `rootId`, `depth` levels down "
        "(at most 10), with progress at every level."
    )
    async def alignment_tree(
        self,
        info: Info,
        root_id: Annotated[
            strawberry.ID,
            strawberry.argument(description="The global ID of the objective at the top."),
        ],
        depth: Annotated[
            int, strawberry.argument(description="How many levels below the root, 0 to 10.")
        ] = 3,
    ) -> AlignmentTreeNode | None:
        return await alignment_tree(
            info, parse_global_id(root_id, "Objective", field="rootId"), depth
        )


@strawberry.type
class AlignmentMutation:
    @strawberry.mutation(
        description="Link an objective to an objective or key result it contributes to, "
        "relates to or depends on."
    )
    async def create_alignment(
        self,
        info: Info,
        input: Annotated[CreateAlignmentInput, input_argument("The link to make.")],
    ) -> CreateAlignmentPayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            link = await service.create_alignment(
                db,
                actor,
                kind=input.kind,
                source_objective_id=parse_global_id(
                    input.source_objective_id, "Objective", field="sourceObjectiveId"
                ),
                target_objective_id=optional_id(
                    input.target_objective_id, "Objective", field="targetObjectiveId"
                ),
                target_key_result_id=optional_id(
                    input.target_key_result_id, "KeyResult", field="targetKeyResultId"
                ),
            )
            return {"alignment": AlignmentLink.from_row(link)}

        return await mutate(info, CreateAlignmentPayload, action)

    @strawberry.mutation(description="Remove an alignment link.")
    async def delete_alignment(
        self,
        info: Info,
        input: Annotated[DeleteAlignmentInput, input_argument("The link to remove.")],
    ) -> DeleteAlignmentPayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            link = await service.delete_alignment(
                db, actor, parse_global_id(input.id, "AlignmentLink", field="id")
            )
            return {"alignment": AlignmentLink.from_row(link), "deleted_alignment_id": input.id}

        return await mutate(info, DeleteAlignmentPayload, action)
