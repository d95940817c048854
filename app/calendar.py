"""Statutory timescales: working days, hours, weeks and months in Europe/London.

Working days are Monday to Friday, not England and Wales bank holidays (substitute days
included) and not one of the council's own closure days. "Within N working days of E"
ends at 23:59:59 London time on the Nth working day after E's calendar day; E's own day
never counts. Hours are clock time; weeks and months keep E's London wall-clock time.
"""
from __future__ import annotations

import calendar as _calendar
import math
import re
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Iterable
from zoneinfo import ZoneInfo

import holidays

LONDON = ZoneInfo("Europe/London")

_END_OF_DAY = time(23, 59, 59)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

__all__ = ["LONDON", "WorkingCalendar", "parse_closures", "to_london"]


@lru_cache(maxsize=None)
def _bank_holidays(year: int) -> frozenset[date]:
    # Building a holidays object is slow; calendars ask about the same few years all the time.
    return frozenset(holidays.UnitedKingdom(subdiv="ENG", years=year, observed=True).keys())


def _localise(naive: datetime) -> datetime:
    """Attach London time to a wall-clock time, normalised through UTC.

    A time skipped when the clocks go forward moves forward an hour (01:30 becomes 02:30
    BST); a time that happens twice in October is the first (BST) one, the earlier deadline.
    """
    return naive.replace(tzinfo=LONDON, fold=0).astimezone(timezone.utc).astimezone(LONDON)


def to_london(value: datetime | date | str) -> datetime:
    """Return ``value`` as an aware Europe/London datetime.

    Accepts an aware datetime, a naive datetime or a date (both taken as London local
    time; a date is its midnight) or an ISO 8601 string of any of those ('Z' allowed).
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 date or date and time") from None
        return to_london(parsed)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return _localise(value)
        # Through UTC, not straight to LONDON: astimezone() returns a London value as it
        # stands, even one naming a time the clocks skipped.
        try:
            return value.astimezone(timezone.utc).astimezone(LONDON)
        except OverflowError:  # the first or last moments of year 1 or 9999, moved an hour
            raise ValueError(f"{value.isoformat()} is outside the dates London's clock can show") from None
    if isinstance(value, date):
        return _localise(datetime.combine(value, time()))
    raise ValueError(
        f"expected a date, a datetime or an ISO 8601 string, got {type(value).__name__} {value!r}"
    )


def _day(value: datetime | date | str) -> date:
    """The London calendar day of ``value`` (a plain date is taken as it is)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return to_london(value).date()


def _weekdays_through(day: date) -> int:
    """Monday-to-Friday days from 1 Jan year 1 (a Monday) up to and including ``day``."""
    weeks, extra = divmod(day.toordinal(), 7)
    return weeks * 5 + min(extra, 5)


def _check_count(n: object, what: str, *, integral: bool = True) -> None:
    # bool is an int subclass; working_days(True, ...) is a bug, not 1 day.
    kinds = (int,) if integral else (int, float)
    if isinstance(n, bool) or not isinstance(n, kinds):
        kind = "a whole number" if integral else "a number"
        raise ValueError(f"{what} must be {kind}, got {n!r}")
    if not math.isfinite(n) or n < 0:
        raise ValueError(f"{what} must not be negative, got {n!r}")


def parse_closures(text: str | None) -> list[date]:
    """Parse closure days written as ISO dates separated by commas and/or spaces."""
    if not text:
        return []
    days = []
    for item in re.split(r"[,\s]+", text.strip()):
        if not item:
            continue
        if not _ISO_DATE.fullmatch(item):
            raise ValueError(f"closure day {item!r} is not a date as YYYY-MM-DD")
        try:
            days.append(date.fromisoformat(item))
        except ValueError:
            raise ValueError(f"closure day {item!r} is not a real date") from None
    return days


class WorkingCalendar:
    """England and Wales working days plus a council's own closure days."""

    def __init__(self, closures: Iterable[date] = ()) -> None:
        days = set()
        for day in closures:
            if isinstance(day, datetime) or not isinstance(day, date):
                raise ValueError(f"closure days must be dates, got {day!r}")
            days.add(day)
        self.closures: frozenset[date] = frozenset(days)
        self._off: dict[int, frozenset[date]] = {}

    def __repr__(self) -> str:
        return f"WorkingCalendar(closures={sorted(self.closures)!r})"

    def _days_off(self, year: int) -> frozenset[date]:
        """Weekdays in ``year`` that are not working days (weekends are handled apart)."""
        off = self._off.get(year)
        if off is None:
            off = frozenset(
                d for d in _bank_holidays(year) | self.closures if d.year == year and d.weekday() < 5
            )
            self._off[year] = off
        return off

    def is_working_day(self, day: date) -> bool:
        day = _day(day)
        return day.weekday() < 5 and day not in self._days_off(day.year)

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        day = _day(day) + timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def working_days(self, n: int, from_: datetime | date | str) -> datetime:
        """End (23:59:59 London) of the Nth working day after the London day of ``from_``."""
        _check_count(n, "working days")
        day = _day(from_)
        if n == 0:
            if not self.is_working_day(day):
                day = self.next_working_day(day)
        else:
            for _ in range(n):
                day = self.next_working_day(day)
        return datetime.combine(day, _END_OF_DAY, tzinfo=LONDON)

    def hours(self, n: float, from_: datetime | date | str) -> datetime:
        """``n`` elapsed hours after ``from_``: a day with a clock change is 23 or 25 hours."""
        _check_count(n, "hours", integral=False)
        start = to_london(from_).astimezone(timezone.utc)
        return (start + timedelta(hours=n)).astimezone(LONDON)

    def weeks(self, n: int, from_: datetime | date | str) -> datetime:
        """``n`` calendar weeks after ``from_`` at the same London wall-clock time."""
        _check_count(n, "weeks")
        start = to_london(from_).replace(tzinfo=None)
        return _localise(start + timedelta(weeks=n))

    def months(self, n: int, from_: datetime | date | str) -> datetime:
        """``n`` calendar months after ``from_``, kept within the month (31 Jan + 1 = 28/29 Feb)."""
        _check_count(n, "months")
        start = to_london(from_).replace(tzinfo=None)
        year, month0 = divmod(start.month - 1 + n, 12)
        year += start.year
        day = min(start.day, _calendar.monthrange(year, month0 + 1)[1])
        return _localise(start.replace(year=year, month=month0 + 1, day=day))

    def working_days_between(
        self, start: datetime | date | str, end: datetime | date | str
    ) -> int:
        """Working days after ``start``'s day up to and including ``end``'s day (0 if none)."""
        first, last = _day(start), _day(end)
        if last <= first:
            return 0
        # Counted, not walked: overdue figures are worked out for every open task.
        count = _weekdays_through(last) - _weekdays_through(first)
        for year in range(first.year, last.year + 1):
            count -= sum(1 for d in self._days_off(year) if first < d <= last)
        return count
