from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay

from service.graphql.context import Info
from service.graphql.mutations import changes_of, mutate
from service.graphql.nodes import connection
from service.graphql.teams.types import (
    CreateTeamInput,
    CreateTeamPayload,
    Team,
    UpdateTeamInput,
    UpdateTeamPayload,
)
from service.kit.ids import optional_id, parse_global_id
from service.kit.principal import Principal
from service.kit.repository import Page, Window
from service.teams import service
from service.teams.models import Team as TeamModel


@strawberry.type
class TeamQuery:
    @strawberry.field(description="Teams in creation order; `parentId` lists one team's children.")
    async def teams(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        parent_id: strawberry.ID | None = None,
        roots_only: bool = False,
    ) -> relay.Connection[Team]:
        organization_id = info.context.principal.organization_id
        parent = optional_id(parent_id, "Team", field="parentId")

        async def fetch(db: AsyncSession, window: Window) -> Page:
            return await service.list_teams(
                db, organization_id, window, parent_id=parent, roots_only=roots_only
            )

        return await connection(info, Team, first=first, after=after, fetch=fetch)


@strawberry.type
class TeamMutation:
    @strawberry.mutation
    async def create_team(self, info: Info, input: CreateTeamInput) -> CreateTeamPayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            team = await service.create_team(
                db,
                actor,
                name=input.name,
                parent_id=optional_id(input.parent_id, "Team", field="parentId"),
            )
            return {"team": Team.from_row(team)}

        return await mutate(info, CreateTeamPayload, action)

    @strawberry.mutation
    async def update_team(self, info: Info, input: UpdateTeamInput) -> UpdateTeamPayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            team = await service.update_team(
                db,
                actor,
                parse_global_id(input.id, "Team", field="id"),
                changes_of(input, TeamModel, {"parent_id": "Team"}),
            )
            return {"team": Team.from_row(team)}

        return await mutate(info, UpdateTeamPayload, action)
