from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Self
from uuid import UUID

import strawberry
from strawberry import relay

from okr_service.graphql.context import Info
from okr_service.graphql.mutations import Payload, changed
from okr_service.graphql.nodes import (
    AFTER,
    CREATED,
    FIRST,
    UPDATED,
    Connection,
    ModelNode,
    child_connection,
)
from okr_service.teams import service
from okr_service.teams.models import Team as TeamModel

if TYPE_CHECKING:
    from okr_service.graphql.objectives.types import Objective


@strawberry.type(description="A node of the organisation tree: company, department, team, squad.")
class Team(ModelNode):
    model = TeamModel

    id: relay.NodeID[UUID]
    name: str = strawberry.field(description="What people call the team.")
    created_at: datetime = strawberry.field(description=CREATED)
    updated_at: datetime = strawberry.field(description=UPDATED)
    parent_id: strawberry.Private[UUID | None]

    row: strawberry.Private[Any]  # what it was read from (the compiled reads use it)

    @classmethod
    def from_row(cls, row: Any) -> Self:
        return cls(
            id=row.id,
            name=row.name,
            created_at=row.created_at,
            updated_at=row.updated_at,
            parent_id=row.parent_id,
            row=row,
        )

    @strawberry.field(
        description="The team this one sits below (a squad's department); null at the top."
    )
    async def parent(self, info: Info) -> "Team | None":
        return await Team.load(info, self.parent_id)

    @strawberry.field(description="Teams directly below this one, in creation order.")
    async def children(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> Connection["Team"]:
        return await child_connection(
            info, Team, self.id, service.CHILDREN, first=first, after=after
        )

    @strawberry.field(description="This team's own objectives (not its subteams'), oldest first.")
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


NAME = "What people call the team (1 to 200 characters, trimmed)."
PARENT = "The global ID of the team to sit below; null for a team at the top of the tree."


@strawberry.input(description="A new team, at the top of the tree or below another team.")
class CreateTeamInput:
    name: str = strawberry.field(description=NAME)
    parent_id: strawberry.ID | None = strawberry.field(default=None, description=PARENT)


@strawberry.input(description="Changes to a team: only the fields given change.")
class UpdateTeamInput:
    id: strawberry.ID = strawberry.field(description="The global ID of the team to change.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description=NAME)
    parent_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description=f"{PARENT} A team cannot move below itself or below a team under it.",
    )


@strawberry.type(description="The result of `createTeam`.")
class CreateTeamPayload(Payload):
    team: Team | None = changed("The new team")


@strawberry.type(description="The result of `updateTeam`.")
class UpdateTeamPayload(Payload):
    team: Team | None = changed("The team as it now stands")
