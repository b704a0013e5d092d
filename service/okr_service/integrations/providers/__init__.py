"""The providers okr-service receives webhooks from, each with its own documented scheme."""

from okr_service.integrations.models import Provider
from okr_service.integrations.providers import github, jira, linear
from okr_service.integrations.providers.base import Scheme

SCHEMES: dict[Provider, Scheme] = {
    scheme.provider: scheme for scheme in (linear.SCHEME, jira.SCHEME, github.SCHEME)
}
