from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.graphql.context import Info
from okr_service.graphql.initiatives.types import (
    CreateInitiativeInput,
    CreateInitiativePayload,
    ExternalRefInput,
    Initiative,
    InitiativeLink,
    LinkInitiativeInput,
    LinkInitiativePayload,
    UnlinkInitiativeInput,
    UnlinkInitiativePayload,
    UpdateInitiativeInput,
    UpdateInitiativePayload,
)
from okr_service.graphql.mutations import changes_of, input_argument, mutate
from okr_service.graphql.nodes import After, Connection, First, connection
from okr_service.initiatives import service
from okr_service.initiatives.models import Initiative as InitiativeModel
from okr_service.kit.ids import optional_id, parse_global_id
from okr_service.kit.principal import Principal
from okr_service.kit.repository import Page, Window
from okr_service.okr.enums import InitiativeStatus


@strawberry.input(description="Which initiatives to list: all of the conditions given hold.")
class InitiativeFilter:
    team_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only the work of this team."
    )
    status: InitiativeStatus | None = strawberry.field(
        default=None, description="Only the work in this status (PARKED: the parking lot)."
    )
    external_system: str | None = strawberry.field(
        default=None, description="Only the items mirrored from this roadmap tool."
    )
    external_key: str | None = strawberry.field(
        default=None, description="Only the item with this key in its roadmap tool."
    )

    def criteria(self) -> dict[str, Any]:
        """The filter as the initiatives service's list takes it."""
        return {
            "team_id": optional_id(self.team_id, "Team", field="teamId"),
            "status": self.status,
            "external_system": self.external_system,
            "external_key": self.external_key,
        }


def external_ref_columns(ref: ExternalRefInput | None) -> dict[str, Any]:
    ref = ref or ExternalRefInput()
    return {"external_system": ref.system, "external_key": ref.key, "external_url": ref.url}


@strawberry.type
class InitiativeQuery:
    @strawberry.field(description="The organization's initiatives, oldest first, filtered.")
    async def initiatives(
        self,
        info: Info,
        filter: Annotated[
            InitiativeFilter | None, strawberry.argument(description="Which ones; all if omitted.")
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[Initiative]:
        organization_id = info.context.principal.organization_id
        criteria = filter.criteria() if filter else {}

        async def fetch(db: AsyncSession, window: Window) -> Page:
            return await service.list_initiatives(db, organization_id, window, **criteria)

        return await connection(info, Initiative, first=first, after=after, fetch=fetch)


@strawberry.type
class InitiativeMutation:
    @strawberry.mutation(description="Record work a team plans or considers (editors).")
    async def create_initiative(
        self,
        info: Info,
        input: Annotated[CreateInitiativeInput, input_argument("The work to record.")],
    ) -> CreateInitiativePayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            fields = changes_of(input, InitiativeModel)
            del fields["team_id"]
            fields |= external_ref_columns(fields.pop("external_ref"))
            initiative = await service.create_initiative(
                db,
                actor,
                team_id=parse_global_id(input.team_id, "Team", field="teamId"),
                fields=fields,
            )
            return {"initiative": Initiative.from_row(initiative)}

        return await mutate(info, CreateInitiativePayload, action)

    @strawberry.mutation(
        description="Change an initiative: its status as work moves, its dates, its ICE scores."
    )
    async def update_initiative(
        self,
        info: Info,
        input: Annotated[UpdateInitiativeInput, input_argument("The work and what changes.")],
    ) -> UpdateInitiativePayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            changes = changes_of(input, InitiativeModel, {"team_id": "Team"})
            if "external_ref" in changes:
                changes |= external_ref_columns(changes.pop("external_ref"))
            initiative = await service.update_initiative(
                db, actor, parse_global_id(input.id, "Initiative", field="id"), changes
            )
            return {"initiative": Initiative.from_row(initiative)}

        return await mutate(info, UpdateInitiativePayload, action)

    @strawberry.mutation(
        description="Link an initiative to a key result, or change the link's expected impact."
    )
    async def link_initiative(
        self,
        info: Info,
        input: Annotated[LinkInitiativeInput, input_argument("The work, key result and impact.")],
    ) -> LinkInitiativePayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            link, initiative = await service.link_initiative(
                db,
                actor,
                initiative_id=parse_global_id(
                    input.initiative_id, "Initiative", field="initiativeId"
                ),
                key_result_id=parse_global_id(
                    input.key_result_id, "KeyResult", field="keyResultId"
                ),
                expected_impact=input.expected_impact,
            )
            return {
                "initiative": Initiative.from_row(initiative),
                "link": InitiativeLink.from_row(link),
            }

        return await mutate(info, LinkInitiativePayload, action)

    @strawberry.mutation(description="Untie an initiative from a key result.")
    async def unlink_initiative(
        self,
        info: Info,
        input: Annotated[UnlinkInitiativeInput, input_argument("The work and the key result.")],
    ) -> UnlinkInitiativePayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            initiative = await service.unlink_initiative(
                db,
                actor,
                initiative_id=parse_global_id(
                    input.initiative_id, "Initiative", field="initiativeId"
                ),
                key_result_id=parse_global_id(
                    input.key_result_id, "KeyResult", field="keyResultId"
                ),
            )
            return {"initiative": Initiative.from_row(initiative)}

        return await mutate(info, UnlinkInitiativePayload, action)
