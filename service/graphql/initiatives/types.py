from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Self
from uuid import UUID

import strawberry
from strawberry import relay

from service.graphql.context import Info
from service.graphql.mutations import Payload
from service.graphql.nodes import ModelNode
from service.graphql.teams.types import Team
from service.initiatives import service
from service.initiatives.models import Initiative as InitiativeModel
from service.kit.numbers import to_float
from service.okr.enums import InitiativeStatus

if TYPE_CHECKING:
    from service.graphql.key_results.types import KeyResult

strawberry.enum(InitiativeStatus)

KeyResultRef = Annotated["KeyResult", strawberry.lazy("service.graphql.key_results.types")]


@strawberry.type(description="The item this initiative mirrors in a roadmap tool.")
class ExternalRef:
    system: str | None
    key: str | None
    url: str | None


@strawberry.type(description="An initiative expected to move a key result by `expectedImpact`.")
class InitiativeLink:
    expected_impact: float | None = strawberry.field(description="In the key result's unit.")
    initiative_id: strawberry.Private[UUID]
    key_result_id: strawberry.Private[UUID]

    row: strawberry.Private[Any]  # what it was read from (the compiled reads use it)

    @classmethod
    def from_row(cls, row: Any) -> Self:
        return cls(
            expected_impact=to_float(row.expected_impact),
            initiative_id=row.initiative_id,
            key_result_id=row.key_result_id,
            row=row,
        )

    @strawberry.field
    async def key_result(self, info: Info) -> KeyResultRef:
        from service.graphql.key_results.types import KeyResult

        return await KeyResult.load_required(info, self.key_result_id)

    @strawberry.field
    async def initiative(self, info: Info) -> "Initiative":
        return await Initiative.load_required(info, self.initiative_id)


@strawberry.type(description="Work (project, epic) expected to move key results.")
class Initiative(ModelNode):
    model = InitiativeModel

    id: relay.NodeID[UUID]
    title: str
    description: str | None
    status: InitiativeStatus
    start_date: date | None
    shipped_at: datetime | None
    impact: int | None
    confidence: int | None
    ease: int | None
    external_ref: ExternalRef | None
    version: int
    created_at: datetime
    updated_at: datetime
    team_id: strawberry.Private[UUID]

    row: strawberry.Private[Any]  # what it was read from (the compiled reads use it)

    @classmethod
    def from_row(cls, row: Any) -> Self:
        has_ref = row.external_system or row.external_key or row.external_url
        return cls(
            id=row.id,
            title=row.title,
            description=row.description,
            status=row.status,
            start_date=row.start_date,
            shipped_at=row.shipped_at,
            impact=row.impact,
            confidence=row.confidence,
            ease=row.ease,
            external_ref=ExternalRef(
                system=row.external_system, key=row.external_key, url=row.external_url
            )
            if has_ref
            else None,
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
            team_id=row.team_id,
            row=row,
        )

    @strawberry.field(description="ICE score: impact x confidence x ease, when all three are set.")
    def ice_score(self) -> int | None:
        return service.ice_score(self)

    @strawberry.field
    async def team(self, info: Info) -> Team:
        return await Team.load_required(info, self.team_id)

    @strawberry.field
    async def key_result_links(self, info: Info) -> list[InitiativeLink]:
        rows = await info.context.loader(service.links_of, default=list).load(self.id)
        return [InitiativeLink.from_row(row) for row in rows]


@strawberry.input
class ExternalRefInput:
    system: str | None = None
    key: str | None = None
    url: str | None = None


@strawberry.input
class CreateInitiativeInput:
    title: str
    team_id: strawberry.ID
    description: str | None = None
    status: InitiativeStatus = InitiativeStatus.PROPOSED
    start_date: date | None = None
    shipped_at: datetime | None = None
    impact: int | None = None
    confidence: int | None = None
    ease: int | None = None
    external_ref: ExternalRefInput | None = None


@strawberry.input
class UpdateInitiativeInput:
    id: strawberry.ID
    expected_version: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="Refuse the update with VERSION_CONFLICT unless the object is still at "
        "this version (optimistic concurrency).",
    )
    title: str | None = strawberry.UNSET
    team_id: strawberry.ID | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    status: InitiativeStatus | None = strawberry.UNSET
    start_date: date | None = strawberry.UNSET
    shipped_at: datetime | None = strawberry.UNSET
    impact: int | None = strawberry.UNSET
    confidence: int | None = strawberry.UNSET
    ease: int | None = strawberry.UNSET
    external_ref: ExternalRefInput | None = strawberry.UNSET


@strawberry.input
class LinkInitiativeInput:
    initiative_id: strawberry.ID
    key_result_id: strawberry.ID
    expected_impact: float | None = None


@strawberry.input
class UnlinkInitiativeInput:
    initiative_id: strawberry.ID
    key_result_id: strawberry.ID


@strawberry.type
class CreateInitiativePayload(Payload):
    initiative: Initiative | None = None


@strawberry.type
class UpdateInitiativePayload(Payload):
    initiative: Initiative | None = None


@strawberry.type
class LinkInitiativePayload(Payload):
    initiative: Initiative | None = None
    link: InitiativeLink | None = None


@strawberry.type
class UnlinkInitiativePayload(Payload):
    initiative: Initiative | None = None
