from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Self
from uuid import UUID

import strawberry
from strawberry import relay

from okr_service.graphql.context import Info
from okr_service.graphql.mutations import EXPECTED_VERSION, Payload, changed
from okr_service.graphql.nodes import CREATED, UPDATED, VERSION, ModelNode
from okr_service.graphql.teams.types import Team
from okr_service.initiatives import service
from okr_service.initiatives.models import Initiative as InitiativeModel
from okr_service.kit.numbers import to_float
from okr_service.okr.enums import InitiativeStatus

if TYPE_CHECKING:
    from okr_service.graphql.key_results.types import KeyResult


KeyResultRef = Annotated["KeyResult", strawberry.lazy("okr_service.graphql.key_results.types")]
UNSET = strawberry.UNSET
TITLE = "What the work is (1 to 200 characters, trimmed)."
TEAM = "The global ID of the team doing the work."
DESCRIPTION = "What the work involves, in free text."
STATUS = "Where the work stands; PLANNED and IN_PROGRESS are the open bets on key results."
START_DATE = "When the work started or is planned to start."
SHIPPED_AT = "When the change reached users: how a team ties a metric's move to its cause."
IMPACT = "ICE: how much it should move its key results, 1 (little) to 10 (a lot)."
CONFIDENCE = "ICE: how sure the team is of that impact, 1 to 10."
EASE = "ICE: how cheap it is to do, 1 (hard) to 10 (easy)."
EXTERNAL_REF = "The item this work mirrors in a roadmap tool (Jira, Linear, Productboard...)."
SYSTEM = 'The roadmap tool ("jira", "linear"...).'
KEY = 'The item\'s key in that tool ("GROW-142").'
URL = "A link to the item."


@strawberry.type(description="The item this initiative mirrors in a roadmap tool.")
class ExternalRef:
    system: str | None = strawberry.field(description=SYSTEM)
    key: str | None = strawberry.field(description=KEY)
    url: str | None = strawberry.field(description=URL)


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

    @strawberry.field(description="The key result the initiative is expected to move.")
    async def key_result(self, info: Info) -> KeyResultRef:
        from okr_service.graphql.key_results.types import KeyResult

        return await KeyResult.load_required(info, self.key_result_id)

    @strawberry.field(description="The work expected to move it.")
    async def initiative(self, info: Info) -> "Initiative":
        return await Initiative.load_required(info, self.initiative_id)


@strawberry.type(description="Work (project, epic) expected to move key results.")
class Initiative(ModelNode):
    model = InitiativeModel

    id: relay.NodeID[UUID]
    title: str = strawberry.field(description='What the work is ("Interactive product tour").')
    description: str | None = strawberry.field(description=DESCRIPTION)
    status: InitiativeStatus = strawberry.field(description=STATUS)
    start_date: date | None = strawberry.field(description=START_DATE)
    shipped_at: datetime | None = strawberry.field(description=SHIPPED_AT)
    impact: int | None = strawberry.field(description=IMPACT)
    confidence: int | None = strawberry.field(description=CONFIDENCE)
    ease: int | None = strawberry.field(description=EASE)
    external_ref: ExternalRef | None = strawberry.field(description=EXTERNAL_REF)
    version: int = strawberry.field(description=VERSION)
    created_at: datetime = strawberry.field(description=CREATED)
    updated_at: datetime = strawberry.field(description=UPDATED)
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

    @strawberry.field(description="The team doing the work.")
    async def team(self, info: Info) -> Team:
        return await Team.load_required(info, self.team_id)

    @strawberry.field(
        description="The key results this work is expected to move, each with its expected "
        f"impact (at most {service.MAX_KEY_RESULTS_PER_INITIATIVE}: linking more is refused)."
    )
    async def key_result_links(self, info: Info) -> list[InitiativeLink]:
        rows = await info.context.loader(service.links_of, default=list).load(self.id)
        return [InitiativeLink.from_row(row) for row in rows]


@strawberry.input(description="The item an initiative mirrors in a roadmap tool.")
class ExternalRefInput:
    system: str | None = strawberry.field(default=None, description=SYSTEM)
    key: str | None = strawberry.field(default=None, description=KEY)
    url: str | None = strawberry.field(default=None, description=URL)


@strawberry.input(description="New work of a team, PROPOSED unless said otherwise.")
class CreateInitiativeInput:
    title: str = strawberry.field(description=TITLE)
    team_id: strawberry.ID = strawberry.field(description=TEAM)
    description: str | None = strawberry.field(default=None, description=DESCRIPTION)
    status: InitiativeStatus = strawberry.field(
        default=InitiativeStatus.PROPOSED, description=STATUS
    )
    start_date: date | None = strawberry.field(default=None, description=START_DATE)
    shipped_at: datetime | None = strawberry.field(default=None, description=SHIPPED_AT)
    impact: int | None = strawberry.field(default=None, description=IMPACT)
    confidence: int | None = strawberry.field(default=None, description=CONFIDENCE)
    ease: int | None = strawberry.field(default=None, description=EASE)
    external_ref: ExternalRefInput | None = strawberry.field(default=None, description=EXTERNAL_REF)


@strawberry.input(description="Changes to an initiative: only the fields given change.")
class UpdateInitiativeInput:
    id: strawberry.ID = strawberry.field(description="The global ID of the initiative.")
    expected_version: int | None = strawberry.field(default=UNSET, description=EXPECTED_VERSION)
    title: str | None = strawberry.field(default=UNSET, description=TITLE)
    team_id: strawberry.ID | None = strawberry.field(default=UNSET, description=TEAM)
    description: str | None = strawberry.field(default=UNSET, description=DESCRIPTION)
    status: InitiativeStatus | None = strawberry.field(default=UNSET, description=STATUS)
    start_date: date | None = strawberry.field(default=UNSET, description=START_DATE)
    shipped_at: datetime | None = strawberry.field(default=UNSET, description=SHIPPED_AT)
    impact: int | None = strawberry.field(default=UNSET, description=IMPACT)
    confidence: int | None = strawberry.field(default=UNSET, description=CONFIDENCE)
    ease: int | None = strawberry.field(default=UNSET, description=EASE)
    external_ref: ExternalRefInput | None = strawberry.field(
        default=UNSET, description=EXTERNAL_REF
    )


@strawberry.input(description="Tie an initiative to a key result it should move.")
class LinkInitiativeInput:
    initiative_id: strawberry.ID = strawberry.field(description="The global ID of the work.")
    key_result_id: strawberry.ID = strawberry.field(
        description="The global ID of the key result (in a cycle not closed)."
    )
    expected_impact: float | None = strawberry.field(
        default=None,
        description="How far the work should move the key result, in its unit: +8 points of "
        "a rising rate, -6 hours of a falling time.",
    )


@strawberry.input(description="Untie an initiative from a key result.")
class UnlinkInitiativeInput:
    initiative_id: strawberry.ID = strawberry.field(description="The global ID of the work.")
    key_result_id: strawberry.ID = strawberry.field(description="The global ID of the key result.")


@strawberry.type(description="The result of `createInitiative`.")
class CreateInitiativePayload(Payload):
    initiative: Initiative | None = changed("The new initiative")


@strawberry.type(description="The result of `updateInitiative`.")
class UpdateInitiativePayload(Payload):
    initiative: Initiative | None = changed("The initiative as it now stands")


@strawberry.type(description="The result of `linkInitiative`.")
class LinkInitiativePayload(Payload):
    initiative: Initiative | None = changed("The initiative, with its links")
    link: InitiativeLink | None = changed("The link made")


@strawberry.type(description="The result of `unlinkInitiative`.")
class UnlinkInitiativePayload(Payload):
    initiative: Initiative | None = changed("The initiative, without the link")
