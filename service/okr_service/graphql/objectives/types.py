import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Self
from uuid import UUID

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay
from strawberry.dataloader import DataLoader

from okr_service.alignment import service as alignment
from okr_service.graphql.alignment.types import (
    AlignmentLink,
    links_from,
    links_to_objective,
)
from okr_service.graphql.checks import OkrCheck
from okr_service.graphql.context import Info
from okr_service.graphql.cycles.types import Cycle
from okr_service.graphql.interfaces import AlignmentTarget
from okr_service.graphql.mutations import EXPECTED_VERSION, Payload, changed
from okr_service.graphql.nodes import (
    CREATED,
    UPDATED,
    VERSION,
    After,
    Connection,
    First,
    ModelNode,
    child_connection,
)
from okr_service.graphql.teams.types import Team
from okr_service.initiatives.service import MAX_INITIATIVES_PER_OBJECTIVE
from okr_service.objectives import service
from okr_service.objectives.models import Objective as ObjectiveModel
from okr_service.okr.enums import (
    AlignmentKind,
    Health,
    HealthReason,
    ObjectiveKind,
    ObjectiveState,
    ProgressMode,
)
from okr_service.okr.figures import NOTHING_MEASURED, ObjectiveFigures

if TYPE_CHECKING:
    from okr_service.graphql.initiatives.types import Initiative
    from okr_service.graphql.key_results.types import KeyResult

KeyResultRef = Annotated["KeyResult", strawberry.lazy("okr_service.graphql.key_results.types")]
InitiativeRef = Annotated["Initiative", strawberry.lazy("okr_service.graphql.initiatives.types")]
DESCRIPTION = "Why the objective matters and what achieving it looks like, in free text."
OWNER = "The person accountable for it, as the organization names people (free text)."
KIND = "COMMITTED (to be met in full) or ASPIRATIONAL (a stretch: about 70% is success)."
PROGRESS_MODE = "What `progress` is computed from: its key results, its contributors, or both."


@strawberry.type(description="What a team wants to achieve in a cycle: qualitative, no numbers.")
class Objective(ModelNode, AlignmentTarget):
    model = ObjectiveModel

    id: relay.NodeID[UUID]
    title: str = strawberry.field(
        description="What the team wants to achieve, in words that inspire (no numbers)."
    )
    description: str | None = strawberry.field(description=DESCRIPTION)
    owner: str | None = strawberry.field(description=OWNER)
    kind: ObjectiveKind = strawberry.field(description=KIND)
    state: ObjectiveState = strawberry.field(description="Where the objective is in its life.")
    progress_mode: ProgressMode = strawberry.field(description=PROGRESS_MODE)
    version: int = strawberry.field(description=VERSION)
    created_at: datetime = strawberry.field(description=CREATED)
    updated_at: datetime = strawberry.field(description=UPDATED)
    team_id: strawberry.Private[UUID]
    cycle_id: strawberry.Private[UUID]
    origin_id: strawberry.Private[UUID | None]
    row: strawberry.Private[Any]

    @classmethod
    def from_row(cls, row: Any) -> Self:
        return cls(
            id=row.id,
            title=row.title,
            description=row.description,
            owner=row.owner,
            kind=row.kind,
            state=row.state,
            origin_id=row.origin_id,
            progress_mode=row.progress_mode,
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
            team_id=row.team_id,
            cycle_id=row.cycle_id,
            row=row,
        )

    async def figures(self, info: Info) -> ObjectiveFigures:
        """The objective's figures at the request's "now", from its domain service (one
        batch for every objective of the request)."""
        found: ObjectiveFigures = await objective_figures(info).load(self.id)
        return found

    @strawberry.field(
        description="Weighted mean of the key results' progress; with progressMode ALIGNED or "
        "BOTH, also of the objectives contributing to this one. Null with nothing to measure."
    )
    async def progress(self, info: Info) -> float | None:
        return (await self.figures(info)).progress

    @strawberry.field(description="Weighted mean of the key results' scores (frozen at close).")
    async def score(self, info: Info) -> float | None:
        return (await self.figures(info)).score

    @strawberry.field(description="Where a linear path through the cycle would be today.")
    async def expected_progress(self, info: Info) -> float:
        return (await self.figures(info)).expected_progress

    @strawberry.field(
        description="As set by hand, else derived from progress (as `progress` rolls it up) "
        "against expected progress; ON_TRACK while nothing can be measured."
    )
    async def health(self, info: Info) -> Health:
        return (await self.figures(info)).health

    @strawberry.field(description="Why `health` is what it is.")
    async def health_reason(self, info: Info) -> HealthReason:
        return (await self.figures(info)).health_reason

    @strawberry.field(description="Good-practice warnings about this objective.")
    async def checks(self, info: Info) -> list[OkrCheck]:
        team, key_results, links = await asyncio.gather(
            Team.load_required(info, self.team_id),
            key_results_of(info, self.id),
            links_from(info, self.id),
        )
        found = service.checks_of(
            self,
            team_has_parent=team.parent_id is not None,
            key_result_count=len(key_results),
            contributes_to_count=sum(
                1 for link in links if link.kind is AlignmentKind.CONTRIBUTES_TO
            ),
        )
        return [OkrCheck.of(check) for check in found]

    @strawberry.field(description="The objective this one was carried over from.")
    async def origin(self, info: Info) -> "Objective | None":
        return await Objective.load(info, self.origin_id)

    @strawberry.field(description="The team that owns the objective.")
    async def team(self, info: Info) -> Team:
        return await Team.load_required(info, self.team_id)

    @strawberry.field(description="The cycle the objective lives in.")
    async def cycle(self, info: Info) -> Cycle:
        return await Cycle.load_required(info, self.cycle_id)

    @strawberry.field(
        description="How we will know it is achieved, oldest first (good practice: 2 to 5, "
        "so a list, not a connection)."
    )
    async def key_results(self, info: Info) -> list[KeyResultRef]:
        return await key_results_of(info, self.id)

    @strawberry.field(
        description="Initiatives linked to any of this objective's key results, each once "
        f"(at most {MAX_INITIATIVES_PER_OBJECTIVE}: linking more is refused)."
    )
    async def initiatives(self, info: Info) -> list[InitiativeRef]:
        from okr_service.graphql.initiatives.types import Initiative

        rows = await info.context.loader(service.initiatives_of, default=list).load(self.id)
        return [Initiative.from_row(row) for row in rows]

    @strawberry.field(
        description="Links from this objective, of every kind (at most "
        f"{alignment.MAX_LINKS_FROM}: making more is refused)."
    )
    async def alignment_links(self, info: Info) -> list[AlignmentLink]:
        return await links_from(info, self.id)

    @strawberry.field(
        description="Links pointing at this objective, of every kind, oldest first (a page "
        "at a time: any number of objectives may point at one)."
    )
    async def incoming_alignment_links(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[AlignmentLink]:
        return await child_connection(
            info, AlignmentLink, self.id, alignment.INCOMING_LINKS, first=first, after=after
        )

    @strawberry.field(
        description="Objectives and key results this objective contributes to (at most "
        f"{alignment.MAX_LINKS_FROM}, as its `alignmentLinks`)."
    )
    async def contributes_to(self, info: Info) -> list[AlignmentTarget]:
        from okr_service.graphql.key_results.types import KeyResult

        links = [
            link
            for link in await links_from(info, self.id)
            if link.kind is AlignmentKind.CONTRIBUTES_TO
        ]
        objectives, key_results = await asyncio.gather(
            Objective.load_many(info, [link.target_objective_id for link in links]),
            KeyResult.load_many(info, [link.target_key_result_id for link in links]),
        )
        return [*objectives, *key_results]

    @strawberry.field(
        description="Objectives contributing to this objective or to one of its key results, "
        "each once, oldest first (a page at a time)."
    )
    async def contributors(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection["Objective"]:
        return await child_connection(
            info, Objective, self.id, alignment.CONTRIBUTORS, first=first, after=after
        )

    @strawberry.field(
        description="Objectives pursuing the same outcome, either direction (at most "
        f"{alignment.MAX_RELATED}: relating more is refused)."
    )
    async def related_to(self, info: Info) -> list["Objective"]:
        outgoing = [
            link.target_objective_id
            for link in await links_from(info, self.id)
            if link.kind is AlignmentKind.RELATES_TO
        ]
        incoming = [
            link.source_id
            for link in await links_to_objective(info, self.id)
            if link.kind is AlignmentKind.RELATES_TO
        ]
        return await Objective.load_many(info, [*outgoing, *incoming])

    @strawberry.field(
        description="Objectives whose work this objective needs first (at most "
        f"{alignment.MAX_LINKS_FROM}, as its `alignmentLinks`)."
    )
    async def depends_on(self, info: Info) -> list["Objective"]:
        return await Objective.load_many(
            info,
            [
                link.target_objective_id
                for link in await links_from(info, self.id)
                if link.kind is AlignmentKind.DEPENDS_ON
            ],
        )

    @strawberry.field(
        description="Objectives that need this objective's work first, oldest first (a page "
        "at a time)."
    )
    async def dependents(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection["Objective"]:
        return await child_connection(
            info, Objective, self.id, alignment.DEPENDENTS, first=first, after=after
        )


def objective_figures(info: Info) -> DataLoader[UUID, ObjectiveFigures]:
    """The request's loader of objective figures, all at the request's "now"."""
    now = info.context.now

    async def batch(
        db: AsyncSession, organization_id: UUID, ids: list[UUID]
    ) -> dict[UUID, ObjectiveFigures]:
        return await service.figures(db, organization_id, ids, now)

    return info.context.loader(batch, name="objective_figures", default=NOTHING_MEASURED)


async def key_results_of(info: Info, objective_id: UUID) -> list["KeyResult"]:
    """The objective's key results; built once per request however many fields ask."""
    from okr_service.graphql.key_results.types import KeyResult

    async def build() -> list[KeyResult]:
        loader = info.context.loader(service.key_results_by_objective, default=list)
        return [KeyResult.from_row(row) for row in await loader.load(objective_id)]

    return await info.context.memoized(("key_results_of", objective_id), build)


TITLE = "What the team wants to achieve (1 to 200 characters, trimmed; no numbers)."
TEAM = "The global ID of the team that owns it."
CYCLE = "The global ID of the cycle it lives in (not a closed one)."
UNSET = strawberry.UNSET


@strawberry.input(description="A new objective of a team in a cycle, in DRAFT.")
class CreateObjectiveInput:
    title: str = strawberry.field(description=TITLE)
    team_id: strawberry.ID = strawberry.field(description=TEAM)
    cycle_id: strawberry.ID = strawberry.field(description=CYCLE)
    kind: ObjectiveKind = strawberry.field(default=ObjectiveKind.COMMITTED, description=KIND)
    description: str | None = strawberry.field(default=None, description=DESCRIPTION)
    owner: str | None = strawberry.field(default=None, description=OWNER)
    progress_mode: ProgressMode = strawberry.field(
        default=ProgressMode.KEY_RESULTS, description=PROGRESS_MODE
    )


@strawberry.input(description="Changes to an objective: only the fields given change.")
class UpdateObjectiveInput:
    id: strawberry.ID = strawberry.field(description="The global ID of the objective.")
    expected_version: int | None = strawberry.field(default=UNSET, description=EXPECTED_VERSION)
    title: str | None = strawberry.field(default=UNSET, description=TITLE)
    description: str | None = strawberry.field(default=UNSET, description=DESCRIPTION)
    owner: str | None = strawberry.field(default=UNSET, description=OWNER)
    team_id: strawberry.ID | None = strawberry.field(default=UNSET, description=TEAM)
    cycle_id: strawberry.ID | None = strawberry.field(default=UNSET, description=CYCLE)
    kind: ObjectiveKind | None = strawberry.field(default=UNSET, description=KIND)
    state: ObjectiveState | None = strawberry.field(
        default=UNSET, description="Activate, close or cancel it."
    )
    health: Health | None = strawberry.field(
        default=UNSET,
        description="Name the health by hand: it then stays as named, not derived from progress.",
    )
    progress_mode: ProgressMode | None = strawberry.field(default=UNSET, description=PROGRESS_MODE)


@strawberry.input(
    description="The objective to delete, with its key results, check-ins and alignment links."
)
class DeleteObjectiveInput:
    id: strawberry.ID = strawberry.field(description="The global ID of the objective.")


@strawberry.type(description="The result of `createObjective`.")
class CreateObjectivePayload(Payload):
    objective: Objective | None = changed("The new objective")


@strawberry.type(description="The result of `updateObjective`.")
class UpdateObjectivePayload(Payload):
    objective: Objective | None = changed("The objective as it now stands")


@strawberry.type(description="The result of `deleteObjective`.")
class DeleteObjectivePayload(Payload):
    objective: Objective | None = changed("The objective as it was before deletion")
    deleted_objective_id: strawberry.ID | None = changed(
        "The global ID of the deleted objective, to drop it from client caches"
    )
