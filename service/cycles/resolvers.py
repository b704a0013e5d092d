from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay

from service.auth.service import Principal
from service.cycles import service
from service.cycles.models import Cycle as CycleModel
from service.cycles.types import (
    CreateCycleInput,
    CreateCyclePayload,
    Cycle,
    UpdateCycleInput,
    UpdateCyclePayload,
)
from service.graphql.context import Info
from service.graphql.mutations import changes_of, mutate
from service.graphql.nodes import connection
from service.kit.ids import optional_id, parse_global_id
from service.okr.enums import CycleState


@strawberry.type
class CycleQuery:
    @strawberry.field(description="Cycles in creation order.")
    async def cycles(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        state: CycleState | None = None,
    ) -> relay.Connection[Cycle]:
        filters = [] if state is None else [CycleModel.state == state]
        return await connection(info, Cycle, first=first, after=after, filters=filters)


@strawberry.type
class CycleMutation:
    @strawberry.mutation
    async def create_cycle(self, info: Info, input: CreateCycleInput) -> CreateCyclePayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            cycle = await service.create_cycle(
                db,
                actor,
                name=input.name,
                starts_on=input.starts_on,
                ends_on=input.ends_on,
                parent_id=optional_id(input.parent_id, "Cycle", field="parentId"),
            )
            return {"cycle": Cycle.from_row(cycle)}

        return await mutate(info, CreateCyclePayload, action)

    @strawberry.mutation(description="Rename, re-date or move a cycle through its states.")
    async def update_cycle(self, info: Info, input: UpdateCycleInput) -> UpdateCyclePayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            cycle = await service.update_cycle(
                db,
                actor,
                parse_global_id(input.id, "Cycle", field="id"),
                changes_of(input, CycleModel, {"parent_id": "Cycle"}),
            )
            return {"cycle": Cycle.from_row(cycle)}

        return await mutate(info, UpdateCyclePayload, action)
