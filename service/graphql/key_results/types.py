import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Self
from uuid import UUID

import strawberry
from strawberry import relay

from service.graphql.alignment.types import links_to_key_result
from service.graphql.checks import OkrCheck
from service.graphql.context import Info
from service.graphql.cycles.types import cycle_dates_of_objective, cycle_of_objective
from service.graphql.interfaces import AlignmentTarget
from service.graphql.mutations import Payload
from service.graphql.nodes import ModelNode
from service.graphql.teams.types import Team
from service.key_results import service
from service.key_results.models import CheckIn as CheckInModel
from service.key_results.models import KeyResult as KeyResultModel
from service.kit.numbers import to_float
from service.okr.enums import AlignmentKind, Direction, Health, HealthReason, Indicator, Metric
from service.okr.figures import KeyResultFigures

if TYPE_CHECKING:
    from service.graphql.initiatives.types import Initiative, InitiativeLink
    from service.graphql.objectives.types import Objective

for enum in (Direction, Indicator, Metric):
    strawberry.enum(enum)
strawberry.enum(HealthReason, description="Why a health is what it is.")

ObjectiveRef = Annotated["Objective", strawberry.lazy("service.graphql.objectives.types")]
InitiativeRef = Annotated["Initiative", strawberry.lazy("service.graphql.initiatives.types")]
InitiativeLinkRef = Annotated[
    "InitiativeLink", strawberry.lazy("service.graphql.initiatives.types")
]
MAX_CHECK_INS = 100


@strawberry.type(description="One update of a key result; history, never changed.")
class CheckIn(ModelNode):
    model = CheckInModel

    id: relay.NodeID[UUID]
    value: float
    health: Health | None
    confidence: float | None
    note: str | None
    blockers: str | None
    support_needed: str | None
    author: str | None
    checked_at: datetime
    created_at: datetime
    key_result_id: strawberry.Private[UUID]

    row: strawberry.Private[Any]  # what it was read from (the compiled reads use it)

    @classmethod
    def from_row(cls, row: Any) -> Self:
        return cls(
            id=row.id,
            value=float(row.value),
            health=row.health,
            confidence=to_float(row.confidence),
            note=row.note,
            blockers=row.blockers,
            support_needed=row.support_needed,
            author=row.author,
            checked_at=row.checked_at,
            created_at=row.created_at,
            key_result_id=row.key_result_id,
            row=row,
        )

    @strawberry.field
    async def key_result(self, info: Info) -> "KeyResult":
        return await KeyResult.load_required(info, self.key_result_id)


@strawberry.type(
    description="How we know an objective is met: a value moving from start to target."
)
class KeyResult(ModelNode, AlignmentTarget):
    model = KeyResultModel

    id: relay.NodeID[UUID]
    title: str
    metric: Metric
    unit: str | None
    direction: Direction
    start_value: float | None
    target_value: float
    current_value: float | None
    weight: float
    confidence: float | None
    indicator: Indicator | None
    version: int
    created_at: datetime
    updated_at: datetime
    objective_id: strawberry.Private[UUID]
    team_id: strawberry.Private[UUID]
    row: strawberry.Private[Any]

    @classmethod
    def from_row(cls, row: Any) -> Self:
        return cls(
            id=row.id,
            title=row.title,
            metric=row.metric,
            unit=row.unit,
            direction=row.direction,
            start_value=to_float(row.start_value),
            target_value=float(row.target_value),
            current_value=to_float(row.current_value),
            weight=float(row.weight),
            confidence=to_float(row.confidence),
            indicator=row.indicator,
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
            objective_id=row.objective_id,
            team_id=row.team_id,
            row=row,
        )

    async def figures(self, info: Info) -> KeyResultFigures:
        """The key result's figures at the request's "now", from its domain service: once
        per request, however many of its figure fields are asked."""

        async def compute() -> KeyResultFigures:
            cycle = await cycle_dates_of_objective(info, self.objective_id)
            return service.figures_of(self.row, cycle, info.context.now)

        return await info.context.memoized(figures_key(self.id), compute)

    @classmethod
    def with_figures(cls, info: Info, row: Any, figures: KeyResultFigures) -> Self:
        """A key result whose figures its reader computed already (a report's lines)."""
        info.context.memo[figures_key(row.id)] = figures
        return cls.from_row(row)

    @strawberry.field(description="Fraction 0..1 of the way from start to target.")
    async def progress(self, info: Info) -> float:
        return (await self.figures(info)).progress

    @strawberry.field(description="Whether the latest value meets the target.")
    async def achieved(self, info: Info) -> bool:
        return (await self.figures(info)).achieved

    @strawberry.field(description="The graded result 0..1; frozen when the cycle closed.")
    async def score(self, info: Info) -> float:
        return (await self.figures(info)).score

    @strawberry.field(description="Where a linear path through the cycle would be today.")
    async def expected_progress(self, info: Info) -> float:
        return (await self.figures(info)).expected_progress

    @strawberry.field(
        description="As set by the latest check-in or by hand, else derived from progress "
        "against expected progress."
    )
    async def health(self, info: Info) -> Health:
        return (await self.figures(info)).health

    @strawberry.field(description="Why `health` is what it is.")
    async def health_reason(self, info: Info) -> HealthReason:
        return (await self.figures(info)).health_reason

    @strawberry.field(
        description="Expected impacts of the open bets (initiatives PLANNED or IN_PROGRESS) "
        "over the gap still to go from the current value to the target; an impact is the "
        "metric's expected move in its unit (-6 on a falling time counts toward a lower "
        "target). 1 = the bets should just close it; null without gap or open bets."
    )
    async def impact_coverage(self, info: Info) -> float | None:
        bets = await info.context.loader(service.bets_of, default=list).load(self.id)
        return service.coverage_of(self.row, bets)

    @strawberry.field(description="Every check-in's value, oldest first, to draw the trend.")
    async def history(self, info: Info) -> list[CheckIn]:
        rows = await info.context.loader(service.history_of, default=list).load(self.id)
        return [CheckIn.from_row(row) for row in rows]

    @strawberry.field(description="Good-practice warnings about this key result.")
    async def checks(self, info: Info) -> list[OkrCheck]:
        cycle, latest = await asyncio.gather(
            cycle_of_objective(info, self.objective_id),
            info.context.loader(service.latest_check_ins).load(self.id),
        )
        last_check_in_at = None if latest is None else latest.checked_at
        found = service.checks_of(self.row, cycle, last_check_in_at, info.context.now)
        return [OkrCheck.of(check) for check in found]

    @strawberry.field
    async def objective(self, info: Info) -> ObjectiveRef:
        from service.graphql.objectives.types import Objective

        return await Objective.load_required(info, self.objective_id)

    @strawberry.field(description="The owning team; differs from the objective's for a shared OKR.")
    async def team(self, info: Info) -> Team:
        return await Team.load_required(info, self.team_id)

    @strawberry.field(description="The newest check-ins first.")
    async def check_ins(self, info: Info, first: int = 20) -> list[CheckIn]:
        limit = max(0, min(first, MAX_CHECK_INS))

        async def recent(db: Any, organization_id: UUID, keys: list[UUID]) -> dict[UUID, Any]:
            return await service.recent_check_ins(db, organization_id, keys, limit)

        loader = info.context.loader(recent, default=list, name=("check_ins", limit))
        return [CheckIn.from_row(row) for row in await loader.load(self.id)]

    @strawberry.field
    async def latest_check_in(self, info: Info) -> CheckIn | None:
        row = await info.context.loader(service.latest_check_ins).load(self.id)
        return None if row is None else CheckIn.from_row(row)

    @strawberry.field(
        description="Initiatives expected to move this key result, with their impact."
    )
    async def initiative_links(self, info: Info) -> list[InitiativeLinkRef]:
        return await initiative_links_of(info, self.id)

    @strawberry.field
    async def initiatives(self, info: Info) -> list[InitiativeRef]:
        from service.graphql.initiatives.types import Initiative

        links = await initiative_links_of(info, self.id)
        return await Initiative.load_many(info, [link.initiative_id for link in links])

    @strawberry.field(description="Objectives contributing to this key result.")
    async def contributors(self, info: Info) -> list[ObjectiveRef]:
        from service.graphql.objectives.types import Objective

        links = await links_to_key_result(info, self.id)
        return await Objective.load_many(
            info, [link.source_id for link in links if link.kind is AlignmentKind.CONTRIBUTES_TO]
        )


@strawberry.input
class CreateKeyResultInput:
    objective_id: strawberry.ID
    title: str
    target_value: float
    metric: Metric = Metric.NUMBER
    direction: Direction = Direction.INCREASE
    start_value: float | None = None
    unit: str | None = None
    team_id: strawberry.ID | None = strawberry.field(
        default=None, description="Owning team, when another than the objective's (shared OKR)."
    )
    weight: float = 1.0
    confidence: float | None = None
    indicator: Indicator | None = None


@strawberry.input
class UpdateKeyResultInput:
    id: strawberry.ID
    expected_version: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="Refuse the update with VERSION_CONFLICT unless the object is still at "
        "this version (optimistic concurrency).",
    )
    title: str | None = strawberry.UNSET
    metric: Metric | None = strawberry.UNSET
    direction: Direction | None = strawberry.UNSET
    start_value: float | None = strawberry.UNSET
    target_value: float | None = strawberry.UNSET
    unit: str | None = strawberry.UNSET
    team_id: strawberry.ID | None = strawberry.UNSET
    weight: float | None = strawberry.UNSET
    confidence: float | None = strawberry.UNSET
    indicator: Indicator | None = strawberry.UNSET
    health: Health | None = strawberry.UNSET


@strawberry.input
class DeleteKeyResultInput:
    id: strawberry.ID


@strawberry.input
class RecordCheckInInput:
    key_result_id: strawberry.ID
    value: float
    health: Health | None = None
    confidence: float | None = None
    note: str | None = None
    blockers: str | None = None
    support_needed: str | None = None
    checked_at: datetime | None = strawberry.field(
        default=None, description="When the value was measured; defaults to now."
    )


@strawberry.type
class CreateKeyResultPayload(Payload):
    key_result: KeyResult | None = None


@strawberry.type
class UpdateKeyResultPayload(Payload):
    key_result: KeyResult | None = None


@strawberry.type
class DeleteKeyResultPayload(Payload):
    key_result: KeyResult | None = None
    deleted_key_result_id: strawberry.ID | None = None


@strawberry.type
class RecordCheckInPayload(Payload):
    check_in: CheckIn | None = None
    key_result: KeyResult | None = None


async def initiative_links_of(info: Info, key_result_id: UUID) -> list["InitiativeLink"]:
    from service.graphql.initiatives.types import InitiativeLink

    rows = await info.context.loader(service.initiative_links_of, default=list).load(key_result_id)
    return [InitiativeLink.from_row(row) for row in rows]


def figures_key(key_result_id: UUID) -> tuple[str, UUID]:
    """Where a request keeps a key result's figures (`Context.memoized`)."""
    return ("key_result_figures", key_result_id)
