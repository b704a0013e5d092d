"""Checks on input values shared by every domain, collecting every problem at once."""

from collections.abc import Sequence
from datetime import UTC, datetime

from okr_service.kit.errors import DomainError, ErrorCode, UserError

TITLE_MAX_LENGTH = 200
TEXT_MAX_LENGTH = 10_000


class Problems:
    """Collects user errors so a caller learns of every bad field in one answer."""

    def __init__(self) -> None:
        self.errors: list[UserError] = []

    def add(self, field: str | Sequence[str], message: str, code: ErrorCode) -> None:
        path = [field] if isinstance(field, str) else list(field)
        self.errors.append(UserError(path, message, code))

    def raise_if_any(self) -> None:
        if self.errors:
            raise DomainError(*self.errors)

    def name(
        self,
        field: str | Sequence[str],
        value: str | None,
        *,
        required: bool = True,
        max_length: int = TITLE_MAX_LENGTH,
    ) -> str | None:
        """A title or name: trimmed, not empty, not too long. Store what this returns: the
        length checked is the trimmed value's (stored untrimmed, padding that passed the
        check would overflow the column or be cut by PostgreSQL)."""
        if value is None:
            if required:
                self.add(field, "This field is required.", ErrorCode.REQUIRED)
            return None
        value = value.strip()
        if not value:
            self.add(field, "This field cannot be empty.", ErrorCode.REQUIRED)
        elif len(value) > max_length:
            self.add(field, f"At most {max_length} characters are allowed.", ErrorCode.TOO_LONG)
        return value

    def text(
        self, field: str | Sequence[str], value: str | None, max_length: int = TEXT_MAX_LENGTH
    ) -> str | None:
        """A free text (a description, a note): trimmed, not too long; may be empty. Store
        what this returns, as with `name`."""
        if value is None:
            return None
        value = value.strip()
        if len(value) > max_length:
            self.add(field, f"At most {max_length} characters are allowed.", ErrorCode.TOO_LONG)
        return value

    def in_range(self, field: str, value: float | None, low: float, high: float) -> None:
        if value is None:
            return
        if value != value or not low <= value <= high:  # value != value: NaN
            self.add(field, f"Must be between {low:g} and {high:g}.", ErrorCode.OUT_OF_RANGE)

    def finite(self, field: str, value: float | None) -> None:
        if value is not None and (value != value or value in (float("inf"), float("-inf"))):
            self.add(field, "Must be a finite number.", ErrorCode.INVALID_VALUE)

    def moment(self, field: str, value: datetime | None) -> bool:
        """A point in time with a time zone, representable in UTC; whether it is one."""
        if value is None:
            return False
        if value.tzinfo is None:
            self.add(field, "A time zone is required.", ErrorCode.INVALID_VALUE)
            return False
        try:
            value.astimezone(UTC)
        except OverflowError:
            self.add(field, "This time is out of range.", ErrorCode.INVALID_VALUE)
            return False
        return True
