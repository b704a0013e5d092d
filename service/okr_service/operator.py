"""What an operator runs by hand (`okr-service create-api-key`, `revoke-api-key`): each
answers in one line, JSON on success, a reason on failure."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.auth import keys
from okr_service.kit.db import create_engine, create_sessionmaker, enter_tenant, transaction
from okr_service.kit.errors import DomainError
from okr_service.kit.ids import decode_global_id, global_id
from okr_service.kit.principal import Scope
from okr_service.kit.settings import Settings
from okr_service.organizations.service import system_principal

OPERATOR = "command line"  # the actor events name for what an operator did
DURATION = re.compile(r"(\d+)([smhdw])")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class OperatorError(Exception):
    """A refusal the command prints as one line (exit 1)."""


def parse_duration(text: str) -> timedelta:
    """`90d`, `12h`, `30m`, `2w`, `45s`: a positive duration."""
    found = DURATION.fullmatch(text.strip())
    if found is None or int(found[1]) == 0:
        raise OperatorError(f"{text!r} is not a duration such as 90d, 12h, 30m or 2w.")
    return timedelta(seconds=int(found[1]) * UNIT_SECONDS[found[2]])


def parse_id(text: str, type_name: str) -> UUID:
    """An object's global ID (as the API shows it) or its bare UUID."""
    try:
        return UUID(text)
    except ValueError:
        pass
    try:
        found_type, raw = decode_global_id(text, field="id")
    except DomainError:
        raise OperatorError(f"{text!r} is not an ID (the API's ID, or a UUID).") from None
    if found_type != type_name:
        raise OperatorError(f"{text!r} names {found_type}, not {type_name}.")
    return raw


def refusal(error: DomainError) -> OperatorError:
    return OperatorError(
        "; ".join(
            f"{'.'.join(problem.field)}: {problem.message}" if problem.field else problem.message
            for problem in error.errors
        )
    )


async def create_api_key(
    url: str,
    settings: Settings,
    *,
    organization: str,
    scope: str,
    name: str,
    expires_in: str | None,
) -> dict[str, Any]:
    organization_id = parse_id(organization, "Organization")
    expires_at = datetime.now(UTC) + parse_duration(expires_in) if expires_in else None

    async def issue(db: AsyncSession) -> dict[str, Any]:
        # As the tenant: row-level security keeps the command inside that organization.
        if not await enter_tenant(db, organization_id):
            raise OperatorError(f"No organization {organization}.")
        actor = system_principal(organization_id, OPERATOR)
        key, secret = await keys.issue_api_key(
            db, actor, name=name, scopes=[Scope(scope)], expires_at=expires_at
        )
        return {
            "apiKeyId": global_id("ApiKey", key.id),
            "organizationId": global_id("Organization", organization_id),
            "scope": scope,
            "expiresAt": expires_at.isoformat() if expires_at else None,
            "apiKey": secret,
        }

    return await _in_transaction(url, settings, issue)


async def revoke_api_key(url: str, settings: Settings, key: str) -> dict[str, Any]:
    key_id = parse_id(key, "ApiKey")

    async def revoke(db: AsyncSession) -> dict[str, Any]:
        organization_id = await keys.owner_of_key(db, key_id)
        if organization_id is None or not await enter_tenant(db, organization_id):
            raise OperatorError(f"No API key {key}.")
        revoked = await keys.revoke_api_key(
            db, system_principal(organization_id, OPERATOR), key_id, None
        )
        assert revoked.revoked_at is not None
        return {
            "apiKeyId": global_id("ApiKey", key_id),
            "revokedAt": revoked.revoked_at.isoformat(),
        }

    return await _in_transaction(url, settings, revoke)


async def _in_transaction(url: str, settings: Settings, action: Any) -> dict[str, Any]:
    engine = create_engine(url, settings)
    try:
        async with transaction(create_sessionmaker(engine)) as db:
            result: dict[str, Any] = await action(db)
            return result
    except DomainError as error:
        raise refusal(error) from None
    finally:
        await engine.dispose()
