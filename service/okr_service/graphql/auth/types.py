from datetime import datetime
from typing import Any, Self
from uuid import UUID

import strawberry
from strawberry import relay

from okr_service.auth.models import ApiKey as ApiKeyModel
from okr_service.graphql.mutations import Payload, changed
from okr_service.graphql.nodes import AdminNode
from okr_service.kit.principal import Scope

NAME = 'What the key is for ("metrics pipeline"); shown as the author of its changes.'
SCOPES = "What the key may do: READ, WRITE or ADMIN (each grants the ones before it)."


@strawberry.type(description="A service credential of the organization (the secret is not kept).")
class ApiKey(AdminNode):
    model = ApiKeyModel

    id: relay.NodeID[UUID]
    name: str = strawberry.field(description=NAME)
    scopes: list[Scope] = strawberry.field(description=SCOPES)
    expires_at: datetime | None = strawberry.field(
        description="When the key stops working; null: never."
    )
    revoked_at: datetime | None = strawberry.field(
        description="When an admin revoked it; null while it works."
    )
    created_at: datetime = strawberry.field(description="When it was issued.")

    @classmethod
    def from_row(cls, row: Any) -> Self:
        return cls(
            id=row.id,
            name=row.name,
            scopes=[Scope(scope) for scope in row.scopes],
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            created_at=row.created_at,
        )


@strawberry.input(description="A new service credential.")
class CreateApiKeyInput:
    name: str = strawberry.field(description=NAME)
    scopes: list[Scope] = strawberry.field(description=SCOPES)
    expires_at: datetime | None = strawberry.field(
        default=None, description="When the key stops working; never when omitted."
    )


@strawberry.type(description="The result of `createApiKey`.")
class CreateApiKeyPayload(Payload):
    api_key: ApiKey | None = changed("The new key")
    secret: str | None = strawberry.field(
        default=None, description="The key itself: shown this once, never again."
    )


@strawberry.input(description="The key to revoke.")
class RevokeApiKeyInput:
    id: strawberry.ID = strawberry.field(description="The global ID of the API key.")


@strawberry.type(description="The result of `revokeApiKey`.")
class RevokeApiKeyPayload(Payload):
    api_key: ApiKey | None = changed("The key, revoked")
