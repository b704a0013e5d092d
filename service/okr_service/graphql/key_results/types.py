import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Self
from uuid import UUID

import strawberry
from strawberry import relay

from okr_service.alignment import service as alignment
from okr_service.graphql.checks import OkrCheck
from okr_service.graphql.context import Context, Info
from okr_service.graphql.cycles.types import cycle_dates_of_objective, cycle_of_objective
from okr_service.graphql.interfaces import AlignmentTarget
from okr_service.graphql.mutations import EXPECTED_VERSION, Payload, changed
from okr_service.graphql.nodes import (
    AFTER,
    CREATED,
    FIRST,
    UPDATED,
    VERSION,
    Connection,
    ModelNode,
    child_connection,
)
from okr_service.graphql.teams.types import Team
from okr_service.initiatives.service import MAX_INITIATIVES_PER_OBJECTIVE
from okr_service.key_results import service
from okr_service.key_results.models import CheckIn as CheckInModel
from okr_service.key_results.models import KeyResult as KeyResultModel
from okr_service.kit.numbers import to_float
from okr_service.okr.enums import Direction, Health, HealthReason, Indicator, Metric
from okr_service.okr.figures import KeyResultFigures

if TYPE_CHECKING:
    from okr_service.graphql.initiatives.types import Initiative, InitiativeLink
    from okr_service.graphql.objectives.types import Objective

ObjectiveRef = Annotated["Objective", strawberry.lazy("okr_service.graphql.objectives.types")]
InitiativeRef = Annotated["Initiative", strawberry.lazy("okr_service.graphql.initiatives.types")]
InitiativeLinkRef = Annotated[
    "InitiativeLink", strawberry.lazy("okr_service.graphql.initiatives.types")
]
METRIC = "What the values measure: a number, a percentage, money, or a milestone (0 or 1)."
UNIT = 'The unit of every value ("%", "h", "EUR", "signups"); free text.'
DIRECTION = "Which way the value must move: up or down to the target, or stay beyond it."
START_VALUE = (
    "The baseline, measured before the cycle started; progress counts from it (null: not "
    "measured, progress counts from 0)."
)
TARGET_VALUE = "The value that means the key result is achieved."
TITLE = "The outcome to measure (1 to 200 characters, trimmed): an outcome, not work to ship."
WEIGHT = "Its share in the objective's progress and score, relative to its siblings (0 to 100)."
CONFIDENCE = "How likely the team thinks the target will be met, 0 to 1."
INDICATOR = "Whether the metric leads (predicts) or lags (confirms) the outcome."
CHECK_IN_HEALTH = "The health the team names with this update; null leaves it derived."
CHECK_IN_CONFIDENCE = "How likely the team now thinks the target will be met, 0 to 1."
NOTE = "What happened since the last check-in."
BLOCKERS = "What stands in the way."
SUPPORT_NEEDED = "Help the team asks for from others."
UNSET = strawberry.UNSET


@strawberry.type(description="One update of a key result; history, never changed.")
class CheckIn(ModelNode):
    model = CheckInModel

    id: relay.NodeID[UUID]
    value: float = strawberry.field(description="The key result's value measured, in its unit.")
    health: Health | None = strawberry.field(description=CHECK_IN_HEALTH)
    confidence: float | None = strawberry.field(description=CHECK_IN_CONFIDENCE)
    note: str | None = strawberry.field(description=NOTE)
    blockers: str | None = strawberry.field(description=BLOCKERS)
    support_needed: str | None = strawberry.field(description=SUPPORT_NEEDED)
    author: str | None = strawberry.field(
        description="Who checked in: the API key's name or the signed-in user's."
    )
    checked_at: datetime = strawberry.field(description="When the value was measured.")
    created_at: datetime = strawberry.field(description="When the check-in was recorded.")
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

    @strawberry.field(description="The key result this check-in updated.")
    async def key_result(self, info: Info) -> "KeyResult":
        return await KeyResult.load_required(info, self.key_result_id)


@strawberry.type(
    description="How we know an objective is met: a value moving from start to target."
)
class KeyResult(ModelNode, AlignmentTarget):
    model = KeyResultModel

    id: relay.NodeID[UUID]
    title: str = strawberry.field(
        description='The outcome to measure, verifiable and time-bound ("Raise onboarding '
        'completion from 68% to 85%").'
    )
    metric: Metric = strawberry.field(description=METRIC)
    unit: str | None = strawberry.field(description=UNIT)
    direction: Direction = strawberry.field(description=DIRECTION)
    start_value: float | None = strawberry.field(description=START_VALUE)
    target_value: float = strawberry.field(description=TARGET_VALUE)
    current_value: float | None = strawberry.field(
        description="The value of the latest check-in; null before the first one."
    )
    weight: float = strawberry.field(description=WEIGHT)
    confidence: float | None = strawberry.field(description=CONFIDENCE)
    indicator: Indicator | None = strawberry.field(description=INDICATOR)
    version: int = strawberry.field(description=VERSION)
    created_at: datetime = strawberry.field(description=CREATED)
    updated_at: datetime = strawberry.field(description=UPDATED)
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

    @strawberry.field(
        description="The check-ins by the time they were measured, oldest first, to draw the "
        "trend (`checkIns` pages them newest first)."
    )
    async def history(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> Connection[CheckIn]:
        return await child_connection(
            info, CheckIn, self.id, service.HISTORY, first=first, after=after
        )

    @strawberry.field(description="Good-practice warnings about this key result.")
    async def checks(self, info: Info) -> list[OkrCheck]:
        cycle, latest = await asyncio.gather(
            cycle_of_objective(info, self.objective_id),
            info.context.loader(service.latest_check_ins).load(self.id),
        )
        last_check_in_at = None if latest is None else latest.checked_at
        found = service.checks_of(self.row, cycle, last_check_in_at, info.context.now)
        return [OkrCheck.of(check) for check in found]

    @strawberry.field(description="The objective this key result measures.")
    async def objective(self, info: Info) -> ObjectiveRef:
        from okr_service.graphql.objectives.types import Objective

        return await Objective.load_required(info, self.objective_id)

    @strawberry.field(description="The owning team; differs from the objective's for a shared OKR.")
    async def team(self, info: Info) -> Team:
        return await Team.load_required(info, self.team_id)

    @strawberry.field(
        description="The weekly updates of this key result, newest measurement first."
    )
    async def check_ins(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> Connection[CheckIn]:
        return await child_connection(
            info, CheckIn, self.id, service.CHECK_INS, first=first, after=after
        )

    @strawberry.field(
        description="The check-in measured last (by `checkedAt`); null before the first one."
    )
    async def latest_check_in(self, info: Info) -> CheckIn | None:
        row = await info.context.loader(service.latest_check_ins).load(self.id)
        return None if row is None else CheckIn.from_row(row)

    @strawberry.field(
        description="Initiatives expected to move this key result, with their impact (at "
        f"most {MAX_INITIATIVES_PER_OBJECTIVE}: the bound on its objective's initiatives)."
    )
    async def initiative_links(self, info: Info) -> list[InitiativeLinkRef]:
        return await initiative_links_of(info, self.id)

    @strawberry.field(
        description="The initiatives linked to this key result, each once, in link order "
        f"(at most {MAX_INITIATIVES_PER_OBJECTIVE}, as `initiativeLinks`)."
    )
    async def initiatives(self, info: Info) -> list[InitiativeRef]:
        from okr_service.graphql.initiatives.types import Initiative

        links = await initiative_links_of(info, self.id)
        return await Initiative.load_many(info, [link.initiative_id for link in links])

    @strawberry.field(
        description="Objectives contributing to this key result, oldest first (a page at a time)."
    )
    async def contributors(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> Connection[ObjectiveRef]:
        from okr_service.graphql.objectives.types import Objective

        return await child_connection(
            info, Objective, self.id, alignment.KEY_RESULT_CONTRIBUTORS, first=first, after=after
        )


@strawberry.input(description="A new key result of an objective.")
class CreateKeyResultInput:
    objective_id: strawberry.ID = strawberry.field(
        description="The global ID of the objective it measures (in a cycle not closed)."
    )
    title: str = strawberry.field(description=TITLE)
    target_value: float = strawberry.field(description=TARGET_VALUE)
    metric: Metric = strawberry.field(default=Metric.NUMBER, description=METRIC)
    direction: Direction = strawberry.field(default=Direction.INCREASE, description=DIRECTION)
    start_value: float | None = strawberry.field(default=None, description=START_VALUE)
    unit: str | None = strawberry.field(default=None, description=UNIT)
    team_id: strawberry.ID | None = strawberry.field(
        default=None, description="Owning team, when another than the objective's (shared OKR)."
    )
    weight: float = strawberry.field(default=1.0, description=WEIGHT)
    confidence: float | None = strawberry.field(default=None, description=CONFIDENCE)
    indicator: Indicator | None = strawberry.field(default=None, description=INDICATOR)


@strawberry.input(description="Changes to a key result: only the fields given change.")
class UpdateKeyResultInput:
    id: strawberry.ID = strawberry.field(description="The global ID of the key result.")
    expected_version: int | None = strawberry.field(default=UNSET, description=EXPECTED_VERSION)
    title: str | None = strawberry.field(default=UNSET, description=TITLE)
    metric: Metric | None = strawberry.field(default=UNSET, description=METRIC)
    direction: Direction | None = strawberry.field(default=UNSET, description=DIRECTION)
    start_value: float | None = strawberry.field(default=UNSET, description=START_VALUE)
    target_value: float | None = strawberry.field(default=UNSET, description=TARGET_VALUE)
    unit: str | None = strawberry.field(default=UNSET, description=UNIT)
    team_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="The global ID of the owning team (shared OKR)."
    )
    weight: float | None = strawberry.field(default=UNSET, description=WEIGHT)
    confidence: float | None = strawberry.field(default=UNSET, description=CONFIDENCE)
    indicator: Indicator | None = strawberry.field(default=UNSET, description=INDICATOR)
    health: Health | None = strawberry.field(
        default=UNSET,
        description="Name the health by hand: it then stays as named until a check-in names "
        "another.",
    )


@strawberry.input(description="The key result to delete, with its check-ins and links.")
class DeleteKeyResultInput:
    id: strawberry.ID = strawberry.field(description="The global ID of the key result.")


@strawberry.input(description="A new value of a key result, with how the team sees it.")
class RecordCheckInInput:
    key_result_id: strawberry.ID = strawberry.field(
        description="The global ID of the key result (in a cycle not closed)."
    )
    value: float = strawberry.field(description="The value measured, in the key result's unit.")
    health: Health | None = strawberry.field(default=None, description=CHECK_IN_HEALTH)
    confidence: float | None = strawberry.field(default=None, description=CHECK_IN_CONFIDENCE)
    note: str | None = strawberry.field(default=None, description=NOTE)
    blockers: str | None = strawberry.field(default=None, description=BLOCKERS)
    support_needed: str | None = strawberry.field(default=None, description=SUPPORT_NEEDED)
    checked_at: datetime | None = strawberry.field(
        default=None, description="When the value was measured; defaults to now."
    )


@strawberry.type(description="The result of `createKeyResult`.")
class CreateKeyResultPayload(Payload):
    key_result: KeyResult | None = changed("The new key result")


@strawberry.type(description="The result of `updateKeyResult`.")
class UpdateKeyResultPayload(Payload):
    key_result: KeyResult | None = changed("The key result as it now stands")


@strawberry.type(description="The result of `deleteKeyResult`.")
class DeleteKeyResultPayload(Payload):
    key_result: KeyResult | None = changed("The key result as it was before deletion")
    deleted_key_result_id: strawberry.ID | None = changed(
        "The global ID of the deleted key result, to drop it from client caches"
    )


@strawberry.type(description="The result of `recordCheckIn`.")
class RecordCheckInPayload(Payload):
    check_in: CheckIn | None = changed("The check-in recorded")
    key_result: KeyResult | None = changed(
        "The key result with its new current value, health and confidence"
    )


async def initiative_links_of(info: Info, key_result_id: UUID) -> list["InitiativeLink"]:
    from okr_service.graphql.initiatives.types import InitiativeLink

    rows = await info.context.loader(service.initiative_links_of, default=list).load(key_result_id)
    return [InitiativeLink.from_row(row) for row in rows]


def figures_key(key_result_id: UUID) -> tuple[str, UUID]:
    """Where a request keeps a key result's figures (`Context.memoized`)."""
    return ("key_result_figures", key_result_id)


def remember_figures(context: Context, key_result_id: UUID, figures: KeyResultFigures) -> None:
    """Keep figures a reader computed already (a report's lines) for the key result's own
    fields, on either read path."""
    context.memo[figures_key(key_result_id)] = figures


def remembered_figures(context: Context, key_result_id: UUID) -> KeyResultFigures | None:
    found: KeyResultFigures | None = context.memo.get(figures_key(key_result_id))
    return found
