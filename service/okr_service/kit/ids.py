"""Opaque global IDs (`base64("Type:uuid")`, as Relay expects) and pagination cursors."""

import binascii
from typing import Any
from uuid import UUID

from strawberry.relay import from_base64

from okr_service.kit.errors import DomainError, ErrorCode

CURSOR_PREFIX = "cursor"
POSITION_PREFIX = "position"


def global_id(type_name: str, id_: UUID) -> str:
    return to_base64(type_name, id_)


def to_base64(prefix: str, value: Any) -> str:
    """`base64("prefix:value")`: Strawberry's `to_base64` for a type's name, without its
    checks of what names a type (a response encodes hundreds)."""
    return binascii.b2a_base64(f"{prefix}:{value}".encode(), newline=False).decode()


def parse_global_id(value: str, expected_type: str, *, field: str) -> UUID:
    """The UUID inside a global ID of `expected_type`.

    A malformed ID is INVALID_ID; a well-formed ID of another type is NOT_FOUND, exactly as
    an ID of another organization: neither tells the caller anything about what exists.
    """
    type_name, raw = decode_global_id(value, field=field)
    if type_name != expected_type:
        raise DomainError.single(field, f"No {expected_type} with this ID.", ErrorCode.NOT_FOUND)
    return raw


def decode_global_id(value: str, *, field: str) -> tuple[str, UUID]:
    try:
        type_name, raw = from_base64(value)
        return type_name, UUID(raw)
    except (ValueError, TypeError, binascii.Error):
        raise DomainError.single(field, "Malformed ID.", ErrorCode.INVALID_ID) from None


def encode_cursor(id_: UUID) -> str:
    return to_base64(CURSOR_PREFIX, id_)


def decode_cursor(value: str) -> UUID:
    prefix, raw = decode_global_id(value, field="after")
    if prefix != CURSOR_PREFIX:
        raise DomainError.single("after", "Malformed cursor.", ErrorCode.INVALID_ID)
    return raw


def encode_position(index: int) -> str:
    """The cursor of the item at `index` of a list computed per request (a report's)."""
    return to_base64(POSITION_PREFIX, index)


def decode_position(value: str) -> int:
    try:
        prefix, raw = from_base64(value)
    except (ValueError, TypeError, binascii.Error):
        prefix, raw = "", ""
    if prefix != POSITION_PREFIX or not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise DomainError.single("after", "Malformed cursor.", ErrorCode.INVALID_ID)
    return int(raw)


def optional_id(value: str | None, expected_type: str, *, field: str) -> UUID | None:
    return None if value is None else parse_global_id(value, expected_type, field=field)
