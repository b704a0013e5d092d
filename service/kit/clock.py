from datetime import UTC, date, datetime


def today() -> date:
    """Today in UTC: the date expected progress is measured at."""
    return datetime.now(UTC).date()
