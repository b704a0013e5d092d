from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Self
from uuid import UUID

import strawberry
from strawberry import relay

from service.graphql.context import Info
from service.graphql.mutations import Payload
from service.graphql.nodes import ModelNode
from service.teams import service
from service.teams.models import Team as TeamModel

if TYPE_CHECKING:
    from service.graphql.objectives.types import Objective


@strawberry.type(description="A node of the organisation tree: company, department, team, squad.")
class Team(ModelNode):
    model = TeamModel

    id: relay.NodeID[UUID]
    name: str
    created_at: datetime
    updated_at: datetime
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

    @strawberry.field
    async def parent(self, info: Info) -> "Team | None":
        return await Team.load(info, self.parent_id)

    @strawberry.field(description="Teams directly below this one.")
    async def children(self, info: Info) -> list["Team"]:
        rows = await info.context.loader(service.children, default=list).load(self.id)
        return [Team.from_row(row) for row in rows]

    @strawberry.field(description="This team's objectives, in creation order.")
    async def objectives(
        self, info: Info
    ) -> list[Annotated["Objective", strawberry.lazy("service.graphql.objectives.types")]]:
        from service.graphql.objectives.types import Objective

        rows = await info.context.loader(service.objectives_of_teams, default=list).load(self.id)
        return [Objective.from_row(row) for row in rows]


@strawberry.input
class CreateTeamInput:
    name: str
    parent_id: strawberry.ID | None = None


@strawberry.input
class UpdateTeamInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    parent_id: strawberry.ID | None = strawberry.UNSET


@strawberry.type
class CreateTeamPayload(Payload):
    team: Team | None = None


@strawberry.type
class UpdateTeamPayload(Payload):
    team: Team | None = None
