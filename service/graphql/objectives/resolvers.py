from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay

from service.graphql.context import Info
from service.graphql.mutations import changes_of, mutate
from service.graphql.nodes import connection
from service.graphql.objectives.types import (
    CreateObjectiveInput,
    CreateObjectivePayload,
    DeleteObjectiveInput,
    DeleteObjectivePayload,
    Objective,
    UpdateObjectiveInput,
    UpdateObjectivePayload,
)
from service.kit.ids import optional_id, parse_global_id
from service.kit.principal import Principal
from service.kit.repository import Page, Window
from service.objectives import service
from service.objectives.models import Objective as ObjectiveModel
from service.okr.enums import Health, ObjectiveKind, ObjectiveState

REFERENCES = {"team_id": "Team", "cycle_id": "Cycle"}


@strawberry.input
class ObjectiveFilter:
    cycle_id: strawberry.ID | None = None
    team_id: strawberry.ID | None = None
    state: ObjectiveState | None = None
    health: Health | None = strawberry.field(
        default=None, description="Objectives whose `health` is this one now."
    )
    kind: ObjectiveKind | None = None
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
    @strawberry.field(description="Objectives in creation order, filtered.")
    async def objectives(
        self,
        info: Info,
        filter: ObjectiveFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> relay.Connection[Objective]:
        organization_id, now = info.context.principal.organization_id, info.context.now
        criteria = filter.criteria() if filter else {}

        async def fetch(db: AsyncSession, window: Window) -> Page:
            return await service.list_objectives(db, organization_id, window, now=now, **criteria)

        return await connection(info, Objective, first=first, after=after, fetch=fetch)


@strawberry.type
class ObjectiveMutation:
    @strawberry.mutation
    async def create_objective(
        self, info: Info, input: CreateObjectiveInput
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

    @strawberry.mutation
    async def update_objective(
        self, info: Info, input: UpdateObjectiveInput
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
        self, info: Info, input: DeleteObjectiveInput
    ) -> DeleteObjectivePayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            objective = await service.delete_objective(
                db, actor, parse_global_id(input.id, "Objective", field="id")
            )
            return {"objective": Objective.from_row(objective), "deleted_objective_id": input.id}

        return await mutate(info, DeleteObjectivePayload, action)
