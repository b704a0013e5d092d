from datetime import timedelta
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.graphql.context import Info
from okr_service.graphql.integrations.types import (
    CreateIntegrationInput,
    CreateIntegrationPayload,
    DeleteIntegrationInput,
    DeleteIntegrationPayload,
    Integration,
    IntegrationDelivery,
    RotateIntegrationSecretInput,
    RotateIntegrationSecretPayload,
    UpdateIntegrationInput,
    UpdateIntegrationPayload,
)
from okr_service.graphql.mutations import changes_of, input_argument, mutate
from okr_service.graphql.nodes import After, Connection, First, connection
from okr_service.integrations import service
from okr_service.integrations.models import DeliveryOutcome
from okr_service.integrations.models import Integration as IntegrationModel
from okr_service.kit.ids import optional_id, parse_global_id
from okr_service.kit.principal import Principal, Scope
from okr_service.kit.repository import Page, Window


def integration_uuid(value: strawberry.ID, field: str = "id") -> Any:
    return parse_global_id(value, "Integration", field=field)


@strawberry.type
class IntegrationQuery:
    @strawberry.field(description="Roadmap-tool integrations in creation order (admin scope).")
    async def integrations(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[Integration]:
        info.context.principal.require(Scope.ADMIN)
        return await connection(info, Integration, first=first, after=after)

    @strawberry.field(
        description="Requests integrations received, oldest first: applied, ignored or "
        "rejected, with why (admin scope). Pruned after `OKR_INTEGRATION_RETENTION_DAYS`."
    )
    async def integration_deliveries(
        self,
        info: Info,
        integration_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only of this integration.")
        ] = None,
        outcome: Annotated[
            DeliveryOutcome | None, strawberry.argument(description="Only with this outcome.")
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[IntegrationDelivery]:
        info.context.principal.require(Scope.ADMIN)
        organization_id = info.context.principal.organization_id
        integration = optional_id(integration_id, "Integration", field="integrationId")

        async def fetch(db: AsyncSession, window: Window) -> Page:
            return await service.list_deliveries(
                db, organization_id, window, integration_id=integration, outcome=outcome
            )

        return await connection(info, IntegrationDelivery, first=first, after=after, fetch=fetch)


@strawberry.type
class IntegrationMutation:
    @strawberry.mutation(
        description="Receive a roadmap tool's webhooks; the signing secret is shown once."
    )
    async def create_integration(
        self,
        info: Info,
        input: Annotated[CreateIntegrationInput, input_argument("The provider and its options.")],
    ) -> CreateIntegrationPayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            fields = {
                "name": input.name,
                "team_id": optional_id(input.team_id, "Team", field="teamId"),
                "status_mapping": input.status_mapping,
            }
            integration, secret = await service.create_integration(
                db, actor, input.provider, fields, input.signing_secret
            )
            return {"integration": Integration.from_row(integration), "secret": secret}

        return await mutate(info, CreateIntegrationPayload, action)

    @strawberry.mutation(description="Rename, rescope or remap an integration.")
    async def update_integration(
        self,
        info: Info,
        input: Annotated[UpdateIntegrationInput, input_argument("The integration and changes.")],
    ) -> UpdateIntegrationPayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            changes = changes_of(input, IntegrationModel, {"team_id": "Team"})
            integration = await service.update_integration(
                db, actor, integration_uuid(input.id), changes
            )
            return {"integration": Integration.from_row(integration)}

        return await mutate(info, UpdateIntegrationPayload, action)

    @strawberry.mutation(
        description="A new signing secret; the old one still verifies for the grace period."
    )
    async def rotate_integration_secret(
        self,
        info: Info,
        input: Annotated[
            RotateIntegrationSecretInput, input_argument("The integration and grace period.")
        ],
    ) -> RotateIntegrationSecretPayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            integration, secret = await service.rotate_secret(
                db,
                actor,
                integration_uuid(input.id),
                timedelta(seconds=input.grace_period_seconds),
                input.signing_secret,
            )
            return {"integration": Integration.from_row(integration), "secret": secret}

        return await mutate(info, RotateIntegrationSecretPayload, action)

    @strawberry.mutation(description="Delete an integration and its delivery log.")
    async def delete_integration(
        self,
        info: Info,
        input: Annotated[DeleteIntegrationInput, input_argument("The integration to delete.")],
    ) -> DeleteIntegrationPayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            integration = await service.delete_integration(db, actor, integration_uuid(input.id))
            return {"integration": Integration.from_row(integration)}

        return await mutate(info, DeleteIntegrationPayload, action)
