from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.graphql.context import Info
from okr_service.graphql.mutations import changes_of, input_argument, mutate
from okr_service.graphql.nodes import After, Connection, First, connection
from okr_service.graphql.teams.types import (
    CreateTeamInput,
    CreateTeamPayload,
    Team,
    UpdateTeamInput,
    UpdateTeamPayload,
)
from okr_service.kit.ids import optional_id, parse_global_id
from okr_service.kit.principal import Principal
from okr_service.kit.repository import Page, Window
from okr_service.teams import service
from okr_service.teams.models import Team as TeamModel


@strawberry.type
class TeamQuery:
    @strawberry.field(description="The organization's teams, oldest first.")
    async def teams(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        parent_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only the teams directly below this team."),
        ] = None,
        roots_only: Annotated[
            bool,
            strawberry.argument(description="Only the teams at the top of the tree (no parent)."),
        ] = False,
    ) -> Connection[Team]:
        organization_id = info.context.principal.organization_id
        parent = optional_id(parent_id, "Team", field="parentId")

        async def fetch(db: AsyncSession, window: Window) -> Page:
            return await service.list_teams(
                db, organization_id, window, parent_id=parent, roots_only=roots_only
            )

        return await connection(info, Team, first=first, after=after, fetch=fetch)


@strawberry.type
class TeamMutation:
    @strawberry.mutation(description="Add a team to the organisation tree (admins).")
    async def create_team(
        self,
        info: Info,
        input: Annotated[CreateTeamInput, input_argument("The team to add.")],
    ) -> CreateTeamPayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            team = await service.create_team(
                db,
                actor,
                name=input.name,
                parent_id=optional_id(input.parent_id, "Team", field="parentId"),
            )
            return {"team": Team.from_row(team)}

        return await mutate(info, CreateTeamPayload, action)

    @strawberry.mutation(description="Rename a team or move it in the tree (admins).")
    async def update_team(
        self,
        info: Info,
        input: Annotated[UpdateTeamInput, input_argument("The team and what changes.")],
    ) -> UpdateTeamPayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            team = await service.update_team(
                db,
                actor,
                parse_global_id(input.id, "Team", field="id"),
                changes_of(input, TeamModel, {"parent_id": "Team"}),
            )
            return {"team": Team.from_row(team)}

        return await mutate(info, UpdateTeamPayload, action)
