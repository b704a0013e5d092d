from typing import Any
from uuid import UUID

import strawberry
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay

from service.auth.service import Principal
from service.graphql.context import Info
from service.graphql.mutations import changes_of, mutate
from service.graphql.nodes import connection
from service.kit.ids import parse_global_id
from service.kit.repository import Keep, subtree_ids
from service.objectives import service
from service.objectives.models import Objective as ObjectiveModel
from service.objectives.types import (
    CreateObjectiveInput,
    CreateObjectivePayload,
    DeleteObjectiveInput,
    DeleteObjectivePayload,
    Objective,
    UpdateObjectiveInput,
    UpdateObjectivePayload,
)
from service.okr.enums import Health, ObjectiveKind, ObjectiveState
from service.teams.models import Team as TeamModel

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

    def conditions(self, organization_id: UUID) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.cycle_id is not None:
            found.append(
                ObjectiveModel.cycle_id == parse_global_id(self.cycle_id, "Cycle", field="cycleId")
            )
        if self.team_id is not None:
            team_id = parse_global_id(self.team_id, "Team", field="teamId")
            found.append(
                ObjectiveModel.team_id.in_(subtree_ids(TeamModel, organization_id, team_id))
                if self.include_subteams
                else ObjectiveModel.team_id == team_id
            )
        for column, value in (
            (ObjectiveModel.state, self.state),
            (ObjectiveModel.kind, self.kind),
        ):
            if value is not None:
                found.append(column == value)
        return found


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
        filters = filter.conditions(organization_id) if filter else []
        health = filter.health if filter else None
        keep = None
        if health is not None:

            def keep(db: AsyncSession) -> Keep:
                return service.has_health(db, organization_id, health, now)

        return await connection(
            info, Objective, first=first, after=after, filters=filters, keep=keep
        )


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
