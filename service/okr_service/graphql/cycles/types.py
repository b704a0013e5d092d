from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Self
from uuid import UUID

import strawberry
from strawberry import relay

from okr_service.cycles import service
from okr_service.cycles.models import Cycle as CycleModel
from okr_service.graphql.context import Info
from okr_service.graphql.mutations import Payload, changed
from okr_service.graphql.nodes import (
    AFTER,
    CREATED,
    FIRST,
    UPDATED,
    Connection,
    ModelNode,
    by_ids,
    child_connection,
)
from okr_service.objectives.models import Objective as ObjectiveModel
from okr_service.okr.enums import CycleState
from okr_service.okr.figures import CycleDates

if TYPE_CHECKING:
    from okr_service.graphql.objectives.types import Objective


@strawberry.type(description="The period OKRs live in; a year holds its quarters.")
class Cycle(ModelNode):
    model = CycleModel

    id: relay.NodeID[UUID]
    name: str = strawberry.field(description='What people call the period ("Q3 2026").')
    starts_on: date = strawberry.field(description="Its first day.")
    ends_on: date = strawberry.field(
        description="Its last day: key results should be met by then, and expected progress "
        "reaches 1."
    )
    state: CycleState = strawberry.field(description="Where the cycle is in its life.")
    created_at: datetime = strawberry.field(description=CREATED)
    updated_at: datetime = strawberry.field(description=UPDATED)
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

    @strawberry.field(description="The cycle this one is nested in (a quarter's year), if any.")
    async def parent(self, info: Info) -> "Cycle | None":
        return await Cycle.load(info, self.parent_id)

    @strawberry.field(
        description="Cycles nested directly in this one (a year's quarters), in creation order."
    )
    async def children(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> Connection["Cycle"]:
        return await child_connection(
            info, Cycle, self.id, service.CHILDREN, first=first, after=after
        )

    @strawberry.field(
        description="Objectives living in this cycle (not in its nested cycles), oldest first."
    )
    async def objectives(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> Connection[
        Annotated["Objective", strawberry.lazy("okr_service.graphql.objectives.types")]
    ]:
        from okr_service.graphql.objectives.types import Objective

        return await child_connection(
            info, Objective, self.id, service.OBJECTIVES, first=first, after=after
        )


NAME = "What people call the period (1 to 200 characters, trimmed)."
STARTS_ON = "Its first day."
ENDS_ON = "Its last day, on or after the first."
PARENT = (
    "The global ID of the cycle to nest it in (a quarter in its year), whose dates must hold "
    "it; null for none."
)


@strawberry.input(description="A new cycle, in PLANNING until it is started.")
class CreateCycleInput:
    name: str = strawberry.field(description=NAME)
    starts_on: date = strawberry.field(description=STARTS_ON)
    ends_on: date = strawberry.field(description=ENDS_ON)
    parent_id: strawberry.ID | None = strawberry.field(default=None, description=PARENT)


@strawberry.input(description="Changes to a cycle: only the fields given change.")
class UpdateCycleInput:
    id: strawberry.ID = strawberry.field(description="The global ID of the cycle to change.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description=NAME)
    starts_on: date | None = strawberry.field(default=strawberry.UNSET, description=STARTS_ON)
    ends_on: date | None = strawberry.field(default=strawberry.UNSET, description=ENDS_ON)
    parent_id: strawberry.ID | None = strawberry.field(default=strawberry.UNSET, description=PARENT)
    state: CycleState | None = strawberry.field(
        default=strawberry.UNSET,
        description="A neighbouring state: PLANNING <-> ACTIVE <-> REVIEW. CLOSED only "
        "through `closeCycle`, which freezes the scores.",
    )


@strawberry.type(description="The result of `createCycle`.")
class CreateCyclePayload(Payload):
    cycle: Cycle | None = changed("The new cycle")


@strawberry.type(description="The result of `updateCycle`.")
class UpdateCyclePayload(Payload):
    cycle: Cycle | None = changed("The cycle as it now stands")


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


@strawberry.input(description="The notes of a cycle's retrospective, kept with the cycle.")
class RetrospectiveInput:
    accelerators: str | None = strawberry.field(default=None, description="What sped us up.")
    blockers: str | None = strawberry.field(default=None, description="What blocked us.")
    lessons: str | None = strawberry.field(default=None, description="What we learned.")


@strawberry.input(description="The cycle to close, and what its retrospective found.")
class CloseCycleInput:
    cycle_id: strawberry.ID = strawberry.field(description="The global ID of the cycle.")
    retrospective: RetrospectiveInput | None = strawberry.field(
        default=None, description="The retrospective's notes; none when omitted."
    )


@strawberry.type(description="The result of `closeCycle`.")
class CloseCyclePayload(Payload):
    cycle: Cycle | None = changed("The closed cycle")


@strawberry.input(description="Which objectives move on to which cycle.")
class CarryOverObjectivesInput:
    from_cycle_id: strawberry.ID = strawberry.field(
        description="The global ID of the cycle the objectives live in now."
    )
    to_cycle_id: strawberry.ID = strawberry.field(
        description="The global ID of the cycle to copy them into."
    )
    objective_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Which objectives; all unfinished ones when omitted."
    )


@strawberry.type(description="The result of `carryOverObjectives`.")
class CarryOverObjectivesPayload(Payload):
    objectives: list[
        Annotated["Objective", strawberry.lazy("okr_service.graphql.objectives.types")]
    ] = strawberry.field(default_factory=list, description="The copies, in the new cycle.")
    skipped_objective_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list,
        description="Objectives not carried over: finished, cancelled or without key results.",
    )
