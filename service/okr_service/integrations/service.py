"""Integrations: roadmap tools' webhooks keeping initiatives in step (admin management here,
receiving in `inbound.py`)."""

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.events import service as events
from okr_service.events.catalog import EventType
from okr_service.integrations import inbound, repository
from okr_service.integrations.mapping import checked_mapping, effective_mapping
from okr_service.integrations.models import Integration, Provider
from okr_service.kit.errors import DomainError, ErrorCode
from okr_service.kit.ids import global_id
from okr_service.kit.principal import Principal, Scope
from okr_service.kit.repository import get_owned
from okr_service.kit.validation import Problems
from okr_service.teams.models import Team

SECRET_PREFIX = "okrin_"  # noqa: S105 - a prefix, not a secret
SECRET_MIN_LENGTH, SECRET_MAX_LENGTH = 16, 100
MAX_GRACE = timedelta(days=7)


TYPE_NAME = "Integration"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_hex(32)


def receive_path(integration: Integration) -> str:
    """Where the provider posts: paste it after the service's public address."""
    return f"/integrations/{integration.provider.value}/{integration.id}"


async def _check_fields(db: AsyncSession, actor: Principal, fields: dict[str, Any]) -> None:
    """Validate (and normalise) the fields present in `fields`."""
    problems = Problems()
    if "name" in fields:
        fields["name"] = problems.name("name", fields["name"])
    if "status_mapping" in fields:
        fields["status_mapping"] = checked_mapping(problems, fields["status_mapping"])
    problems.raise_if_any()
    if fields.get("team_id") is not None:
        await get_owned(db, Team, actor.organization_id, fields["team_id"], field="teamId")


def _checked_secret(given: str | None) -> str:
    """A secret the provider made (Linear shows its own), or a new one."""
    if given is None:
        return new_secret()
    secret = given.strip()
    if not SECRET_MIN_LENGTH <= len(secret) <= SECRET_MAX_LENGTH or not secret.isprintable():
        raise DomainError.single(
            "signingSecret",
            f"{SECRET_MIN_LENGTH} to {SECRET_MAX_LENGTH} printable characters.",
            ErrorCode.INVALID_VALUE,
        )
    return secret


async def create_integration(
    db: AsyncSession,
    actor: Principal,
    provider: Provider,
    fields: dict[str, Any],
    signing_secret: str | None = None,
) -> tuple[Integration, str]:
    """A new integration and its signing secret, which cannot be read again."""
    actor.require(Scope.ADMIN)
    fields.setdefault("status_mapping", None)
    await _check_fields(db, actor, fields)
    secret = _checked_secret(signing_secret)
    integration = Integration(
        organization_id=actor.organization_id, provider=provider, secret=secret, **fields
    )
    db.add(integration)
    await db.flush()
    await _record(db, actor, EventType.INTEGRATION_CREATED, integration)
    return integration, secret


async def _owned(db: AsyncSession, actor: Principal, integration_id: UUID) -> Integration:
    actor.require(Scope.ADMIN)
    return await get_owned(
        db, Integration, actor.organization_id, integration_id, field="id", for_update=True
    )


async def update_integration(
    db: AsyncSession, actor: Principal, integration_id: UUID, changes: dict[str, Any]
) -> Integration:
    integration = await _owned(db, actor, integration_id)
    await _check_fields(db, actor, changes)
    before = public_state(integration)
    for field, value in changes.items():
        setattr(integration, field, value)
    await db.flush()
    if changed := events.diff(before, public_state(integration)):
        await _record(db, actor, EventType.INTEGRATION_UPDATED, integration, changes=changed)
    return integration


async def delete_integration(
    db: AsyncSession, actor: Principal, integration_id: UUID
) -> Integration:
    """Delete the integration with its delivery log; returns its last state."""
    integration = await _owned(db, actor, integration_id)
    state = public_state(integration)
    await db.delete(integration)
    await db.flush()
    await _record(db, actor, EventType.INTEGRATION_DELETED, integration, state=state)
    return integration


async def rotate_secret(
    db: AsyncSession,
    actor: Principal,
    integration_id: UUID,
    grace: timedelta,
    signing_secret: str | None = None,
) -> tuple[Integration, str]:
    """A new secret; until `grace` has passed, signatures by the old one are accepted too
    (time to paste the new one into the provider)."""
    if not timedelta(0) <= grace <= MAX_GRACE:
        raise DomainError.single(
            "gracePeriodSeconds", "Must be between 0 and 7 days.", ErrorCode.OUT_OF_RANGE
        )
    integration = await _owned(db, actor, integration_id)
    secret = _checked_secret(signing_secret)
    integration.previous_secret = integration.secret
    integration.previous_secret_expires_at = datetime.now(UTC) + grace
    integration.secret = secret
    await db.flush()
    await _record(db, actor, EventType.INTEGRATION_SECRET_ROTATED, integration)
    return integration, secret


def public_state(integration: Integration) -> dict[str, Any]:
    """The integration as events show it: everything but its secrets."""
    return {
        "id": global_id(TYPE_NAME, integration.id),
        "typename": TYPE_NAME,
        "provider": integration.provider.name,
        "name": integration.name,
        "teamId": None if integration.team_id is None else global_id("Team", integration.team_id),
        "statusMapping": integration.status_mapping,
    }


async def _record(
    db: AsyncSession,
    actor: Principal,
    event_type: EventType,
    integration: Integration,
    *,
    changes: dict[str, dict[str, Any]] | None = None,
    state: dict[str, Any] | None = None,
) -> None:
    await events.record(
        db,
        actor,
        event_type,
        integration,
        changes=changes,
        object_state=state or public_state(integration),
    )


def status_mapping_of(integration: Any) -> dict[str, str | None]:
    """The mapping in force: the provider's defaults under the integration's own entries."""
    return effective_mapping(Provider(integration.provider), integration.status_mapping)


# The inbound path, the delivery log's reads and its retention.
receive = inbound.receive
list_deliveries = repository.list_deliveries
prune_deliveries = repository.prune_deliveries
