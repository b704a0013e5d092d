"""The sweep's tests hear it through a real receiver and delivery worker."""

from tests.webhooks.conftest import (  # noqa: F401 - fixtures, found by name
    local_endpoints_allowed,
    receiver,
    start_worker,
    worker,
)
