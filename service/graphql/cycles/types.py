from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Self
from uuid import UUID

import strawberry
from strawberry import relay

from service.cycles import service
from service.cycles.models import Cycle as CycleModel
from service.graphql.context import Info
from service.graphql.mutations import Payload
from service.graphql.nodes import ModelNode, by_ids
from service.objectives.models import Objective as ObjectiveModel
from service.okr.enums import CycleState
from service.okr.figures import CycleDates

if TYPE_CHECKING:
    from service.graphql.objectives.types import Objective

strawberry.enum(CycleState)


@strawberry.type(description="The period OKRs live in; a year holds its quarters.")
class Cycle(ModelNode):
    model = CycleModel

    id: relay.NodeID[UUID]
    name: str
    starts_on: date
    ends_on: date
    state: CycleState
    created_at: datetime
    updated_at: datetime
    parent_id: strawberry.Private[UUID | None]

    row: strawberry.Private[Any]  # what it was read from (the compiled reads use it)

    @classmethod
    def from_row(cls, row: Any) -> Self:
        return cls(
            id=row.id,
            name=row.name,
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            state=row.state,
            created_at=row.created_at,
            updated_at=row.updated_at,
            parent_id=row.parent_id,
            row=row,
        )

    @strawberry.field
    async def parent(self, info: Info) -> "Cycle | None":
        return await Cycle.load(info, self.parent_id)

    @strawberry.field(description="Cycles nested in this one.")
    async def children(self, info: Info) -> list["Cycle"]:
        rows = await info.context.loader(service.children, default=list).load(self.id)
        return [Cycle.from_row(row) for row in rows]

    @strawberry.field(description="Objectives of this cycle, in creation order.")
    async def objectives(
        self, info: Info
    ) -> list[Annotated["Objective", strawberry.lazy("service.graphql.objectives.types")]]:
        from service.graphql.objectives.types import Objective

        rows = await info.context.loader(service.objectives_of_cycles, default=list).load(self.id)
        return [Objective.from_row(row) for row in rows]


@strawberry.input
class CreateCycleInput:
    name: str
    starts_on: date
    ends_on: date
    parent_id: strawberry.ID | None = None


@strawberry.input
class UpdateCycleInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    starts_on: date | None = strawberry.UNSET
    ends_on: date | None = strawberry.UNSET
    parent_id: strawberry.ID | None = strawberry.UNSET
    state: CycleState | None = strawberry.UNSET


@strawberry.type
class CreateCyclePayload(Payload):
    cycle: Cycle | None = None


@strawberry.type
class UpdateCyclePayload(Payload):
    cycle: Cycle | None = None


async def cycle_of_objective(info: Info, objective_id: UUID) -> Cycle:
    """The cycle an objective lives in, through the request's loaders."""
    objective = await info.context.loader(by_ids(ObjectiveModel)).load(objective_id)
    return await Cycle.load_required(info, objective.cycle_id)


async def cycle_dates_of_objective(info: Info, objective_id: UUID) -> CycleDates:
    """Memoised per request: every key result's figures of an objective ask for them."""

    async def dates() -> CycleDates:
        cycle = await cycle_of_objective(info, objective_id)
        return CycleDates.of(cycle)

    return await info.context.memoized(("cycle_dates", objective_id), dates)


@strawberry.input
class RetrospectiveInput:
    accelerators: str | None = strawberry.field(default=None, description="What sped us up.")
    blockers: str | None = strawberry.field(default=None, description="What blocked us.")
    lessons: str | None = strawberry.field(default=None, description="What we learned.")


@strawberry.input
class CloseCycleInput:
    cycle_id: strawberry.ID
    retrospective: RetrospectiveInput | None = None


@strawberry.type
class CloseCyclePayload(Payload):
    cycle: Cycle | None = None


@strawberry.input
class CarryOverObjectivesInput:
    from_cycle_id: strawberry.ID
    to_cycle_id: strawberry.ID
    objective_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Which objectives; all unfinished ones when omitted."
    )


@strawberry.type
class CarryOverObjectivesPayload(Payload):
    objectives: list[
        Annotated["Objective", strawberry.lazy("service.graphql.objectives.types")]
    ] = strawberry.field(default_factory=list, description="The copies, in the new cycle.")
    skipped_objective_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list,
        description="Objectives not carried over: finished, cancelled or without key results.",
    )
