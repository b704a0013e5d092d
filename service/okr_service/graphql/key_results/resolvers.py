from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.graphql.context import Info
from okr_service.graphql.key_results.types import (
    CheckIn,
    CreateKeyResultInput,
    CreateKeyResultPayload,
    DeleteKeyResultInput,
    DeleteKeyResultPayload,
    KeyResult,
    RecordCheckInInput,
    RecordCheckInPayload,
    UpdateKeyResultInput,
    UpdateKeyResultPayload,
)
from okr_service.graphql.mutations import changes_of, input_argument, mutate
from okr_service.graphql.nodes import After, Connection, First, connection, prime
from okr_service.key_results import service
from okr_service.key_results.models import KeyResult as KeyResultModel
from okr_service.kit.ids import optional_id, parse_global_id
from okr_service.kit.principal import Principal
from okr_service.kit.repository import Page, Window
from okr_service.okr.enums import Health


@strawberry.input(description="Which key results to list: all of the conditions given hold.")
class KeyResultFilter:
    objective_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only the key results of this objective."
    )
    team_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only the key results this team owns (shared ones too)."
    )
    health: Health | None = strawberry.field(
        default=None, description="Key results whose `health` is this one now."
    )

    def criteria(self) -> dict[str, Any]:
        """The filter as the key results service's list takes it."""
        return {
            "objective_id": optional_id(self.objective_id, "Objective", field="objectiveId"),
            "team_id": optional_id(self.team_id, "Team", field="teamId"),
            "health": self.health,
        }


@strawberry.type
class KeyResultQuery:
    @strawberry.field(description="The organization's key results, oldest first, filtered.")
    async def key_results(
        self,
        info: Info,
        filter: Annotated[
            KeyResultFilter | None, strawberry.argument(description="Which ones; all if omitted.")
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[KeyResult]:
        organization_id, now = info.context.principal.organization_id, info.context.now
        criteria = filter.criteria() if filter else {}

        async def fetch(db: AsyncSession, window: Window) -> Page:
            return await service.list_key_results(db, organization_id, window, now=now, **criteria)

        return await connection(info, KeyResult, first=first, after=after, fetch=fetch)


@strawberry.type
class KeyResultMutation:
    @strawberry.mutation(description="Add a key result to an objective (editors of its team).")
    async def create_key_result(
        self,
        info: Info,
        input: Annotated[CreateKeyResultInput, input_argument("The key result to add.")],
    ) -> CreateKeyResultPayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            key_result = await service.create_key_result(
                db,
                actor,
                objective_id=parse_global_id(input.objective_id, "Objective", field="objectiveId"),
                title=input.title,
                metric=input.metric,
                direction=input.direction,
                start_value=input.start_value,
                target_value=input.target_value,
                unit=input.unit,
                team_id=optional_id(input.team_id, "Team", field="teamId"),
                weight=input.weight,
                confidence=input.confidence,
                indicator=input.indicator,
                now=info.context.now,
            )
            return {"key_result": KeyResult.from_row(key_result)}

        return await mutate(info, CreateKeyResultPayload, action)

    @strawberry.mutation(
        description="Change a key result's definition: title, metric, values, owner, weight."
    )
    async def update_key_result(
        self,
        info: Info,
        input: Annotated[UpdateKeyResultInput, input_argument("The key result and what changes.")],
    ) -> UpdateKeyResultPayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            key_result = await service.update_key_result(
                db,
                actor,
                parse_global_id(input.id, "KeyResult", field="id"),
                changes_of(input, KeyResultModel, {"team_id": "Team"}),
                info.context.now,
            )
            return {"key_result": KeyResult.from_row(key_result)}

        return await mutate(info, UpdateKeyResultPayload, action)

    @strawberry.mutation(description="Delete a key result with its check-ins and links.")
    async def delete_key_result(
        self,
        info: Info,
        input: Annotated[DeleteKeyResultInput, input_argument("The key result to delete.")],
    ) -> DeleteKeyResultPayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            key_result = await service.delete_key_result(
                db, actor, parse_global_id(input.id, "KeyResult", field="id"), info.context.now
            )
            return {
                "key_result": KeyResult.from_row(key_result),
                "deleted_key_result_id": input.id,
            }

        return await mutate(info, DeleteKeyResultPayload, action)

    @strawberry.mutation(
        description="Append a check-in; the key result takes its value, health and confidence."
    )
    async def record_check_in(
        self,
        info: Info,
        input: Annotated[RecordCheckInInput, input_argument("The key result and its new value.")],
    ) -> RecordCheckInPayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            recorded = await service.record_check_in(
                db,
                actor,
                key_result_id=parse_global_id(
                    input.key_result_id, "KeyResult", field="keyResultId"
                ),
                value=input.value,
                health=input.health,
                confidence=input.confidence,
                note=input.note,
                blockers=input.blockers,
                support_needed=input.support_needed,
                checked_at=input.checked_at,
                clock=info.context.clock,
            )
            # The payload's figures (health, expected progress) reuse the rows just read.
            prime(info, recorded.key_result, recorded.objective, recorded.cycle)
            return {
                "check_in": CheckIn.from_row(recorded.check_in),
                "key_result": KeyResult.from_row(recorded.key_result),
            }

        return await mutate(info, RecordCheckInPayload, action)
