from datetime import datetime
from typing import Any, Self
from uuid import UUID

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from okr_service.graphql.context import Info
from okr_service.graphql.initiatives.types import Initiative
from okr_service.graphql.mutations import Payload
from okr_service.graphql.nodes import CREATED, UPDATED, AdminNode
from okr_service.graphql.teams.types import Team
from okr_service.integrations import service
from okr_service.integrations.models import DeliveryOutcome, Provider
from okr_service.integrations.models import Integration as IntegrationModel
from okr_service.integrations.models import IntegrationDelivery as IntegrationDeliveryModel


@strawberry.type(
    description="A roadmap tool's webhook keeping initiatives in step. Its secret is never "
    "shown again after creation or rotation."
)
class Integration(AdminNode):
    model = IntegrationModel

    id: relay.NodeID[UUID]
    provider: Provider = strawberry.field(description="The roadmap tool posting here.")
    name: str = strawberry.field(description="What admins call it; the name events show.")
    receive_path: str = strawberry.field(
        description="Where the provider posts: append it to the service's public address."
    )
    status_mapping: JSON = strawberry.field(
        description="The integration's own entries: provider state -> status (null: left alone)."
    )
    effective_status_mapping: JSON = strawberry.field(
        description="The mapping in force: the provider's defaults under the integration's "
        "own entries."
    )
    previous_secret_expires_at: datetime | None = strawberry.field(
        description="Until then, signatures by the secret before rotation are accepted too."
    )
    created_at: datetime = strawberry.field(description=CREATED)
    updated_at: datetime = strawberry.field(description=UPDATED)
    team_id: strawberry.Private[UUID | None]

    @classmethod
    def from_row(cls, row: Any) -> Self:
        return cls(
            id=row.id,
            provider=row.provider,
            name=row.name,
            receive_path=service.receive_path(row),
            status_mapping=JSON(dict(row.status_mapping)),
            effective_status_mapping=JSON(service.status_mapping_of(row)),
            previous_secret_expires_at=row.previous_secret_expires_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            team_id=row.team_id,
        )

    @strawberry.field(
        description="Only this team's initiatives (and those of the teams below it) follow "
        "the provider; none: every team's."
    )
    async def team(self, info: Info) -> Team | None:
        return await Team.load(info, self.team_id)


@strawberry.type(description="One request an integration received, and what came of it.")
class IntegrationDelivery(AdminNode):
    model = IntegrationDeliveryModel

    id: relay.NodeID[UUID]
    outcome: DeliveryOutcome = strawberry.field(description="What came of it.")
    reason: str | None = strawberry.field(
        description="Why it was ignored or rejected (a stable code, e.g. INVALID_SIGNATURE, "
        "UNKNOWN_OBJECT, OUT_OF_ORDER)."
    )
    detail: str | None = strawberry.field(description="The reason in words.")
    http_status: int = strawberry.field(description="The status the provider was answered.")
    provider_delivery_id: str | None = strawberry.field(
        description="The provider's id of the delivery (Linear-Delivery, "
        "X-Atlassian-Webhook-Identifier, X-GitHub-Delivery): a replay of it changes nothing."
    )
    event_name: str | None = strawberry.field(
        description="The provider's event: Issue.update, jira:issue_updated, issues.closed..."
    )
    object_key: str | None = strawberry.field(description="The provider object: ENG-42...")
    provider_state: str | None = strawberry.field(
        description="The object's state in the provider after the change."
    )
    provider_updated_at: datetime | None = strawberry.field(
        description="When the provider last updated the object: an older delivery arriving "
        "later is ignored."
    )
    status: str | None = strawberry.field(description="The initiative status it mapped to.")
    received_at: datetime = strawberry.field(description="When the request arrived.")
    integration_id: strawberry.Private[UUID]
    initiative_ids: strawberry.Private[list[UUID]]

    @classmethod
    def from_row(cls, row: Any) -> Self:
        return cls(
            id=row.id,
            outcome=row.outcome,
            reason=row.reason,
            detail=row.detail,
            http_status=row.http_status,
            provider_delivery_id=row.provider_delivery_id,
            event_name=row.event_name,
            object_key=row.object_key,
            provider_state=row.provider_state,
            provider_updated_at=row.provider_updated_at,
            status=row.status,
            received_at=row.created_at,
            integration_id=row.integration_id,
            initiative_ids=list(row.initiative_ids),
        )

    @strawberry.field(description="The integration that received it.")
    async def integration(self, info: Info) -> Integration:
        return await Integration.load_required(info, self.integration_id)

    @strawberry.field(description="The initiatives it moved (those still existing).")
    async def initiatives(self, info: Info) -> list[Initiative]:
        return await Initiative.load_many(info, self.initiative_ids)


@strawberry.input(description="A roadmap tool's webhook to receive.")
class CreateIntegrationInput:
    provider: Provider = strawberry.field(description="The tool the webhook comes from.")
    name: str = strawberry.field(description="What admins call it; the name events show.")
    team_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Only this team's initiatives (and its subteams') follow; all when null.",
    )
    status_mapping: JSON | None = strawberry.field(
        default=None,
        description="Entries over the provider's defaults: provider state (a state name, "
        "type or category; any case) -> InitiativeStatus name, or null to leave it alone.",
    )
    signing_secret: str | None = strawberry.field(
        default=None,
        description="The provider's own secret when it makes one (Linear); else one is made.",
    )


@strawberry.input(description="The fields to change; those left out keep their value.")
class UpdateIntegrationInput:
    id: strawberry.ID = strawberry.field(description="The integration to change.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="A new name.")
    team_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Only this team's initiatives; null: every team's."
    )
    status_mapping: JSON | None = strawberry.field(
        default=strawberry.UNSET,
        description="The integration's own entries, replacing the previous ones ({} for the "
        "defaults alone).",
    )


@strawberry.input(description="The integration whose secret to replace.")
class RotateIntegrationSecretInput:
    id: strawberry.ID = strawberry.field(description="The integration.")
    grace_period_seconds: int = strawberry.field(
        default=86400, description="How long the old secret still verifies (at most 7 days)."
    )
    signing_secret: str | None = strawberry.field(
        default=None,
        description="The provider's new secret when it makes one (Linear); else one is made.",
    )


@strawberry.input(description="The integration to delete.")
class DeleteIntegrationInput:
    id: strawberry.ID = strawberry.field(description="The integration.")


@strawberry.type(description="The new integration and its secret, or why not.")
class CreateIntegrationPayload(Payload):
    integration: Integration | None = strawberry.field(
        default=None, description="The new integration."
    )
    secret: str | None = strawberry.field(
        default=None, description="The signing secret to paste into the provider: shown once."
    )


@strawberry.type(description="The changed integration, or why not.")
class UpdateIntegrationPayload(Payload):
    integration: Integration | None = strawberry.field(
        default=None, description="The integration as it now is."
    )


@strawberry.type(description="The integration and its new secret, or why not.")
class RotateIntegrationSecretPayload(Payload):
    integration: Integration | None = strawberry.field(
        default=None, description="The integration, with the old secret's grace period."
    )
    secret: str | None = strawberry.field(
        default=None, description="The new signing secret: shown once."
    )


@strawberry.type(description="The deleted integration, or why not.")
class DeleteIntegrationPayload(Payload):
    integration: Integration | None = strawberry.field(default=None, description="Its last state.")
