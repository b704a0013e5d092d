from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.auth import keys
from okr_service.graphql.auth.types import (
    ApiKey,
    CreateApiKeyInput,
    CreateApiKeyPayload,
    RevokeApiKeyInput,
    RevokeApiKeyPayload,
)
from okr_service.graphql.context import Info
from okr_service.graphql.mutations import input_argument, mutate
from okr_service.graphql.nodes import After, Connection, First, connection
from okr_service.kit.ids import parse_global_id
from okr_service.kit.principal import Principal, Scope


@strawberry.type
class ApiKeyQuery:
    @strawberry.field(description="The organization's API keys, revoked ones included (admin).")
    async def api_keys(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[ApiKey]:
        info.context.principal.require(Scope.ADMIN)
        return await connection(info, ApiKey, first=first, after=after)


@strawberry.type
class ApiKeyMutation:
    @strawberry.mutation(description="Issue an API key (admin); its secret is returned once.")
    async def create_api_key(
        self, info: Info, input: Annotated[CreateApiKeyInput, input_argument("The key to issue.")]
    ) -> CreateApiKeyPayload:
        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            key, secret = await keys.issue_api_key(
                db, actor, name=input.name, scopes=input.scopes, expires_at=input.expires_at
            )
            return {"api_key": ApiKey.from_row(key), "secret": secret}

        return await mutate(info, CreateApiKeyPayload, action)

    @strawberry.mutation(description="Revoke an API key (admin): it stops working.")
    async def revoke_api_key(
        self, info: Info, input: Annotated[RevokeApiKeyInput, input_argument("The key to revoke.")]
    ) -> RevokeApiKeyPayload:
        cache = info.context.request.app.state.principal_cache if info.context.request else None

        async def action(db: AsyncSession, actor: Principal) -> dict[str, Any]:
            key = await keys.revoke_api_key(
                db, actor, parse_global_id(input.id, "ApiKey", field="id"), cache
            )
            return {"api_key": ApiKey.from_row(key)}

        return await mutate(info, RevokeApiKeyPayload, action)
