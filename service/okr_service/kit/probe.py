"""The container's health check (`okr-service healthcheck`): standard library only, so the
probe a scheduler runs every few seconds starts fast and costs little."""

import urllib.error
import urllib.request

TIMEOUT_SECONDS = 3.0


def is_ready(port: int) -> bool:
    """Whether the API on this machine's `port` says it is ready (GET /readyz: 200)."""
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/readyz", timeout=TIMEOUT_SECONDS
        ) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
