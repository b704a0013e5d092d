from datetime import datetime
from typing import Any, Self
from uuid import UUID

import strawberry
from strawberry import relay

from service.auth.models import ApiKey as ApiKeyModel
from service.graphql.mutations import Payload
from service.graphql.nodes import AdminNode
from service.kit.principal import Scope


@strawberry.type(description="A service credential of the organization (the secret is not kept).")
class ApiKey(AdminNode):
    model = ApiKeyModel

    id: relay.NodeID[UUID]
    name: str
    scopes: list[Scope]
    expires_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime

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


@strawberry.input
class CreateApiKeyInput:
    name: str
    scopes: list[Scope]
    expires_at: datetime | None = strawberry.field(
        default=None, description="When the key stops working; never when omitted."
    )


@strawberry.type
class CreateApiKeyPayload(Payload):
    api_key: ApiKey | None = None
    secret: str | None = strawberry.field(
        default=None, description="The key itself: shown this once, never again."
    )


@strawberry.input
class RevokeApiKeyInput:
    id: strawberry.ID


@strawberry.type
class RevokeApiKeyPayload(Payload):
    api_key: ApiKey | None = None
