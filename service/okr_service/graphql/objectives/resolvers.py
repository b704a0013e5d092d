from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.graphql.context import Info
from okr_service.graphql.mutations import changes_of, input_argument, mutate
from okr_service.graphql.nodes import After, Connection, First, connection
from okr_service.graphql.objectives.types import (
    CreateObjectiveInput,
    CreateObjectivePayload,
    DeleteObjectiveInput,
    DeleteObjectivePayload,
    Objective,
    UpdateObjectiveInput,
    UpdateObjectivePayload,
)
from okr_service.kit.ids import optional_id, parse_global_id
from okr_service.kit.principal import Principal
from okr_service.kit.repository import Page, Window
from okr_service.objectives import service
from okr_service.objectives.models import Objective as ObjectiveModel
from okr_service.okr.enums import Health, ObjectiveKind, ObjectiveState

REFERENCES = {"team_id": "Team", "cycle_id": "Cycle"}


@strawberry.input(description="Which objectives to list: all of the conditions given hold.")
class ObjectiveFilter:
    cycle_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only objectives of this cycle."
    )
    team_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only objectives of this team (see `includeSubteams`)."
    )
    state: ObjectiveState | None = strawberry.field(
        default=None, description="Only objectives in this state."
    )
    health: Health | None = strawberry.field(
        default=None, description="Objectives whose `health` is this one now."
    )
    kind: ObjectiveKind | None = strawberry.field(
        default=None, description="Only committed, or only aspirational, objectives."
    )
    include_subteams: bool = strawberry.field(
        default=False, description="With teamId: also the objectives of every team below it."
    )

    def criteria(self) -> dict[str, Any]:
        """The filter as the objectives service's list takes it."""
        return {
            "cycle_id": optional_id(self.cycle_id, "Cycle", field="cycleId"),
            "team_id": optional_id(self.team_id, "Team", field="teamId"),
            "include_subteams": self.include_subteams,
            "state": self.state,
            "kind": self.kind,
            "health": self.health,
        }


@strawberry.type
class ObjectiveQuery:
    @strawberry.field(description="The organization's objectives, oldest first, filtered.")
    async def objectives(
        self,
        info: Info,
        filter: Annotated[
            ObjectiveFilter | None, strawberry.argument(description="Which ones; all if omitted.")
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[Objective]:
        organization_id, now = info.context.principal.organization_id, info.context.now
        criteria = filter.criteria() if filter else {}

        async def fetch(db: AsyncSession, window: Window) -> Page:
            return await service.list_objectives(db, organization_id, window, now=now, **criteria)

        return await connection(info, Objective, first=first, after=after, fetch=fetch)


@strawberry.type
class ObjectiveMutation:
    @strawberry.mutation(description="Write a new objective for a team in a cycle (editors).")
    async def create_objective(
        self,
        info: Info,
        input: Annotated[CreateObjectiveInput, input_argument("The objective to write.")],
    ) -> CreateObjectivePayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            objective = await service.create_objective(
                db,
                actor,
                title=input.title,
                description=input.description,
                team_id=parse_global_id(input.team_id, "Team", field="teamId"),
                cycle_id=parse_global_id(input.cycle_id, "Cycle", field="cycleId"),
                kind=input.kind,
                owner=input.owner,
                progress_mode=input.progress_mode,
            )
            return {"objective": Objective.from_row(objective)}

        return await mutate(info, CreateObjectivePayload, action)

    @strawberry.mutation(
        description="Change an objective: its words, owner, team, cycle, kind, state or health."
    )
    async def update_objective(
        self,
        info: Info,
        input: Annotated[UpdateObjectiveInput, input_argument("The objective and what changes.")],
    ) -> UpdateObjectivePayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            objective = await service.update_objective(
                db,
                actor,
                parse_global_id(input.id, "Objective", field="id"),
                changes_of(input, ObjectiveModel, REFERENCES),
                info.context.now,
            )
            return {"objective": Objective.from_row(objective)}

        return await mutate(info, UpdateObjectivePayload, action)

    @strawberry.mutation(description="Delete an objective with its key results and links.")
    async def delete_objective(
        self,
        info: Info,
        input: Annotated[DeleteObjectiveInput, input_argument("The objective to delete.")],
    ) -> DeleteObjectivePayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            objective = await service.delete_objective(
                db, actor, parse_global_id(input.id, "Objective", field="id")
            )
            return {"objective": Objective.from_row(objective), "deleted_objective_id": input.id}

        return await mutate(info, DeleteObjectivePayload, action)
