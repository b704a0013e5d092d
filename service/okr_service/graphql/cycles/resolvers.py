from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.cycles import service
from okr_service.cycles.carry_over import carry_over_objectives
from okr_service.cycles.close import close_cycle
from okr_service.cycles.models import Cycle as CycleModel
from okr_service.graphql.context import Info
from okr_service.graphql.cycles.types import (
    CarryOverObjectivesInput,
    CarryOverObjectivesPayload,
    CloseCycleInput,
    CloseCyclePayload,
    CreateCycleInput,
    CreateCyclePayload,
    Cycle,
    UpdateCycleInput,
    UpdateCyclePayload,
)
from okr_service.graphql.mutations import changes_of, input_argument, mutate
from okr_service.graphql.nodes import After, Connection, First, connection
from okr_service.kit.ids import global_id, optional_id, parse_global_id
from okr_service.kit.principal import Principal
from okr_service.kit.repository import Page, Window
from okr_service.okr.enums import CycleState


@strawberry.type
class CycleQuery:
    @strawberry.field(description="The organization's cycles, oldest first.")
    async def cycles(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        state: Annotated[
            CycleState | None, strawberry.argument(description="Only the cycles in this state.")
        ] = None,
    ) -> Connection[Cycle]:
        organization_id = info.context.principal.organization_id

        async def fetch(db: AsyncSession, window: Window) -> Page:
            return await service.list_cycles(db, organization_id, window, state=state)

        return await connection(info, Cycle, first=first, after=after, fetch=fetch)


@strawberry.type
class CycleMutation:
    @strawberry.mutation(description="Plan a new cycle (admins).")
    async def create_cycle(
        self, info: Info, input: Annotated[CreateCycleInput, input_argument("The cycle to plan.")]
    ) -> CreateCyclePayload:
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
    async def update_cycle(
        self,
        info: Info,
        input: Annotated[UpdateCycleInput, input_argument("The cycle and what changes.")],
    ) -> UpdateCyclePayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            cycle = await service.update_cycle(
                db,
                actor,
                parse_global_id(input.id, "Cycle", field="id"),
                changes_of(input, CycleModel, {"parent_id": "Cycle"}),
            )
            return {"cycle": Cycle.from_row(cycle)}

        return await mutate(info, UpdateCyclePayload, action)

    @strawberry.mutation(
        description="Close a cycle: freeze its key results' scores, close its active "
        "objectives and keep the retrospective."
    )
    async def close_cycle(
        self,
        info: Info,
        input: Annotated[CloseCycleInput, input_argument("The cycle and its retrospective.")],
    ) -> CloseCyclePayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            notes = input.retrospective
            cycle = await close_cycle(
                db,
                actor,
                parse_global_id(input.cycle_id, "Cycle", field="cycleId"),
                {
                    "accelerators": notes.accelerators if notes else None,
                    "blockers": notes.blockers if notes else None,
                    "lessons": notes.lessons if notes else None,
                },
                info.context.now,
            )
            return {"cycle": Cycle.from_row(cycle)}

        return await mutate(info, CloseCyclePayload, action)

    @strawberry.mutation(
        description="Copy unfinished objectives and their open key results into another cycle "
        "(current values become baselines; no check-in history), linked to their origin."
    )
    async def carry_over_objectives(
        self,
        info: Info,
        input: Annotated[
            CarryOverObjectivesInput, input_argument("Which objectives, from and to which cycle.")
        ],
    ) -> CarryOverObjectivesPayload:
        from okr_service.graphql.objectives.types import Objective

        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            ids = input.objective_ids
            copies, skipped = await carry_over_objectives(
                db,
                actor,
                from_cycle_id=parse_global_id(input.from_cycle_id, "Cycle", field="fromCycleId"),
                to_cycle_id=parse_global_id(input.to_cycle_id, "Cycle", field="toCycleId"),
                objective_ids=None
                if ids is None
                else [parse_global_id(id_, "Objective", field="objectiveIds") for id_ in ids],
                now=info.context.now,
            )
            return {
                "objectives": [Objective.from_row(copy) for copy in copies],
                "skipped_objective_ids": [global_id("Objective", id_) for id_ in skipped],
            }

        return await mutate(info, CarryOverObjectivesPayload, action)
