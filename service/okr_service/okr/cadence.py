"""The check-in cadence: how many whole check-in periods a key result has gone without one."""

from datetime import date, datetime, time, timedelta


def unchecked_since(
    last_check_in_at: datetime | None, cycle_starts_on: date, now: datetime
) -> datetime:
    """Since when a key result waits for a check-in: its last one, or the start of its
    cycle's first day (as `checks.stale_check_in` counts)."""
    return last_check_in_at or datetime.combine(cycle_starts_on, time.min, tzinfo=now.tzinfo)


def counted_until(cycle_ends_on: date, now: datetime) -> datetime:
    """Periods count until now, or the end of the cycle's last day if that came first (an
    active cycle left open past its end is not nagged about for ever)."""
    cycle_end = datetime.combine(cycle_ends_on + timedelta(days=1), time.min, tzinfo=now.tzinfo)
    return min(now, cycle_end)


def missed_periods(since: datetime, until: datetime, cadence: timedelta) -> int:
    """Whole periods of `cadence` from `since` to `until`: the check-ins that were due."""
    return max(0, (until - since) // cadence)
