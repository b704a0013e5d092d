"""What every provider scheme offers, and the defensive readers its payload parsing uses.

A scheme verifies a request's raw bytes (before anything parses them), then reads the
parsed body into the one thing okr-service cares about: which object changed, its state,
and when the provider last updated it. A payload that lacks what its event promises is
`Malformed` (answered 400), never a KeyError or a 500.
"""

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from okr_service.integrations.models import Provider
from okr_service.okr.enums import InitiativeStatus


class Refused(Exception):
    """The request is refused before its content counts: answered `status`, recorded."""

    status = 401

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Malformed(Refused):
    """A verified body that is not what its event promises."""

    status = 400


@dataclass(frozen=True, slots=True)
class ObjectState:
    """The provider object a delivery is about, as it stands after the change."""

    event_name: str
    label: str  # as people write it: ENG-42, PROJ-7, octo/app#12
    watermark_key: str  # the provider's stable identity of the object (lower case)
    match_keys: tuple[str, ...]  # what an initiative's externalRef.key may hold (lower case)
    state_keys: tuple[str, ...]  # mapping keys to try, most specific first (lower case)
    state_label: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Skip:
    """A verified delivery okr-service has nothing to do with (recorded as ignored)."""

    event_name: str
    reason: str
    detail: str


Reading = ObjectState | Skip


@dataclass(frozen=True, slots=True)
class Scheme:
    provider: Provider
    signature_header: str
    delivery_id_header: str
    # (secret, signature header value, raw body) -> whether the signature is the secret's.
    signature_matches: Callable[[str, str, bytes], bool]
    # (parsed body, headers, now) -> the object state or why it is skipped.
    read: Callable[[Any, Mapping[str, str], datetime], Reading]
    default_mapping: Mapping[str, InitiativeStatus | None]


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def same_text(expected: str, given: str) -> bool:
    """Constant-time equality of two ASCII texts (a non-ASCII `given` never matches)."""
    try:
        given_bytes = given.encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected.encode("ascii"), given_bytes)


def verify(scheme: Scheme, secrets: Sequence[str], headers: Mapping[str, str], body: bytes) -> None:
    """Refused unless the signature header holds the signature of `body` under one of the
    secrets (the current one, and the previous one during its grace period)."""
    given = headers.get(scheme.signature_header)
    if not given:
        raise Refused("MISSING_SIGNATURE", f"No {scheme.signature_header} header.")
    # Every secret is tried, whichever matches: the time taken says nothing of which did.
    matched = [scheme.signature_matches(secret, given.strip(), body) for secret in secrets]
    if not any(matched):
        raise Refused("INVALID_SIGNATURE", f"The {scheme.signature_header} does not match.")


# Defensive readers of a parsed JSON body.


def field(value: Any, *path: str) -> Any:
    """`value[path[0]][path[1]]...`, or None where an object or key is missing."""
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def text(value: Any, *path: str) -> str:
    found = optional_text(value, *path)
    if found is None:
        raise Malformed("MALFORMED_BODY", f"Missing text at {'.'.join(path)}.")
    return found


def optional_text(value: Any, *path: str) -> str | None:
    """A text (or a number: Jira's ids, GitHub's numbers) trimmed and without NUL, which
    PostgreSQL refuses in text; None when missing or empty."""
    found = field(value, *path)
    if isinstance(found, int) and not isinstance(found, bool):
        return str(found)
    if not isinstance(found, str):
        return None
    return found.replace("\x00", "").strip() or None


def moment(value: Any, *path: str) -> datetime:
    """An ISO 8601 time with a time zone (Z, +00:00 or +0000), as providers write them."""
    raw = text(value, *path)
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise Malformed("MALFORMED_BODY", f"Not a time at {'.'.join(path)}.") from None
    if parsed.tzinfo is None:
        raise Malformed("MALFORMED_BODY", f"No time zone at {'.'.join(path)}.")
    return parsed


def keys(*values: str | None) -> tuple[str, ...]:
    """Lower-cased, de-duplicated, in order, without the missing ones."""
    return tuple(dict.fromkeys(value.lower() for value in values if value))
