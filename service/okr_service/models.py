"""Every table, imported in one place for Alembic and the metadata."""

from okr_service.alignment.models import AlignmentLink
from okr_service.auth.models import ApiKey
from okr_service.cycles.models import Cycle
from okr_service.events.models import Event
from okr_service.idempotency.models import IdempotencyKey
from okr_service.initiatives.models import Initiative, InitiativeKeyResult
from okr_service.integrations.models import Integration, IntegrationDelivery, IntegrationWatermark
from okr_service.key_results.models import CheckIn, KeyResult
from okr_service.kit.models import Base
from okr_service.objectives.models import Objective
from okr_service.organizations.models import Organization
from okr_service.teams.models import Team
from okr_service.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "AlignmentLink",
    "ApiKey",
    "Base",
    "CheckIn",
    "Cycle",
    "Event",
    "IdempotencyKey",
    "Initiative",
    "InitiativeKeyResult",
    "Integration",
    "IntegrationDelivery",
    "IntegrationWatermark",
    "KeyResult",
    "Objective",
    "Organization",
    "Team",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
