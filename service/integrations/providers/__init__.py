"""The providers okr-service receives webhooks from, each with its own documented scheme."""

from service.integrations.models import Provider
from service.integrations.providers import github, jira, linear
from service.integrations.providers.base import Scheme

SCHEMES: dict[Provider, Scheme] = {
    scheme.provider: scheme for scheme in (linear.SCHEME, jira.SCHEME, github.SCHEME)
}
