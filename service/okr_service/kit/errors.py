"""Expected errors: raised by the domain, turned into `userErrors` by the API layer."""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    INVALID_ID = "INVALID_ID"
    INVALID_VALUE = "INVALID_VALUE"
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    TARGET_NOT_BEYOND_START = "TARGET_NOT_BEYOND_START"
    INVALID_DATE_RANGE = "INVALID_DATE_RANGE"
    SELF_REFERENCE = "SELF_REFERENCE"
    ALIGNMENT_CYCLE = "ALIGNMENT_CYCLE"
    DUPLICATE = "DUPLICATE"
    INVALID_TARGET = "INVALID_TARGET"
    INVALID_STATE = "INVALID_STATE"
    ALREADY_CLOSED = "ALREADY_CLOSED"
    FORBIDDEN = "FORBIDDEN"
    VERSION_CONFLICT = "VERSION_CONFLICT"
    LIMIT_REACHED = "LIMIT_REACHED"


@dataclass(frozen=True, slots=True)
class UserError:
    field: Sequence[str] | None
    message: str
    code: ErrorCode


class DomainError(Exception):
    """One or more expected errors: the whole change is refused, nothing is written."""

    def __init__(self, *errors: UserError) -> None:
        super().__init__("; ".join(error.message for error in errors))
        self.errors = errors

    @classmethod
    def single(cls, field: str | None, message: str, code: ErrorCode) -> "DomainError":
        return cls(UserError([field] if field else None, message, code))


class Unauthenticated(Exception):
    """No credential, or one that is unknown, expired or revoked."""
