"""From a provider's state to an initiative status: the integration's own entries over the
provider's defaults. A state mapped to null is left to people (nothing changes)."""

from collections.abc import Mapping, Sequence
from typing import Any

from okr_service.integrations.models import Provider
from okr_service.integrations.providers import SCHEMES
from okr_service.kit.errors import ErrorCode
from okr_service.kit.validation import Problems
from okr_service.okr.enums import InitiativeStatus

MAX_ENTRIES = 100
KEY_MAX_LENGTH = 100


def checked_mapping(problems: Problems, value: Any) -> dict[str, str | None]:
    """The custom mapping to store: state (lower case) -> InitiativeStatus name or null."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add("statusMapping", "Must be an object.", ErrorCode.INVALID_VALUE)
        return {}
    if len(value) > MAX_ENTRIES:
        problems.add("statusMapping", f"At most {MAX_ENTRIES} entries.", ErrorCode.TOO_LONG)
        return {}
    mapping: dict[str, str | None] = {}
    for key, status in value.items():
        state = key.strip().lower()
        if not state or len(state) > KEY_MAX_LENGTH or "\x00" in state:
            problems.add(
                ["statusMapping", key[:KEY_MAX_LENGTH]],
                f"A provider state of 1 to {KEY_MAX_LENGTH} characters.",
                ErrorCode.INVALID_VALUE,
            )
        elif status is not None and status not in InitiativeStatus.__members__:
            problems.add(
                ["statusMapping", key],
                "An initiative status (" + ", ".join(InitiativeStatus.__members__) + ") or null.",
                ErrorCode.INVALID_VALUE,
            )
        else:
            mapping[state] = status
    return mapping


def effective_mapping(provider: Provider, custom: Mapping[str, Any]) -> dict[str, str | None]:
    defaults = {
        state: None if status is None else status.value
        for state, status in SCHEMES[provider].default_mapping.items()
    }
    return defaults | dict(custom)


def status_for(
    provider: Provider, custom: Mapping[str, Any], state_keys: Sequence[str]
) -> tuple[bool, InitiativeStatus | None]:
    """Whether a state key is mapped (the first that is), and to which status (None: leave
    the initiative alone)."""
    mapping = effective_mapping(provider, custom)
    for state in state_keys:
        if state in mapping:
            status = mapping[state]
            return True, None if status is None else InitiativeStatus(status)
    return False, None
