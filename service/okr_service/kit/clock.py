"""The service's sense of time. Derived figures move with the calendar (expected progress,
health), so every reader takes "now" from one clock: the application's, read once per
request. Tests hand the application a clock they control."""

from datetime import UTC, date, datetime


class Clock:
    """The system clock (UTC)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def utc_date(moment: datetime) -> date:
    """The calendar day `moment` falls on in UTC: the day expected progress is measured at.
    A moment without a time zone is refused (it would be read as the host's local time)."""
    if moment.tzinfo is None:
        raise ValueError("A moment without a time zone has no UTC day.")
    return moment.astimezone(UTC).date()
