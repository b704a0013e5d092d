"""Every table, imported in one place for Alembic and the metadata."""

from service.alignment.models import AlignmentLink
from service.auth.models import ApiKey
from service.cycles.models import Cycle
from service.events.models import Event
from service.idempotency.models import IdempotencyKey
from service.initiatives.models import Initiative, InitiativeKeyResult
from service.integrations.models import Integration, IntegrationDelivery, IntegrationWatermark
from service.key_results.models import CheckIn, KeyResult
from service.kit.models import Base
from service.objectives.models import Objective
from service.organizations.models import Organization
from service.teams.models import Team
from service.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

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
