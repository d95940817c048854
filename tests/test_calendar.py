import re
from datetime import date, datetime, timedelta, timezone

import pytest

from app.calendar import LONDON, WorkingCalendar, _bank_holidays, parse_closures, to_london

CAL = WorkingCalendar()


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


def end_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=LONDON)


# --- working days -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "start", "due"),
    [
        (15, date(2025, 12, 1), date(2025, 12, 22)),
        # Crosses Christmas Day, Boxing Day and New Year's Day 2026.
        (45, date(2025, 11, 3), date(2026, 1, 8)),
        # Boxing Day 2026 is a Saturday, so Monday 28 December is the substitute day.
        (1, date(2026, 12, 24), date(2026, 12, 29)),
        # Good Friday and Easter Monday 2027.
        (1, date(2027, 3, 25), date(2027, 3, 30)),
        # Friday to Monday skips the weekend only.
        (1, date(2026, 1, 9), date(2026, 1, 12)),
        # An event on a Saturday: the Monday is the first working day after it.
        (1, date(2026, 1, 10), date(2026, 1, 12)),
    ],
)
def test_working_days_known_dates(n, start, due):
    assert CAL.working_days(n, start) == end_of(due)
    assert CAL.working_days(n, london(start.year, start.month, start.day, 10, 30)) == end_of(due)


@pytest.mark.parametrize(
    "day",
    [
        date(2025, 12, 25),
        date(2025, 12, 26),
        date(2026, 1, 1),
        date(2026, 12, 25),
        date(2026, 12, 28),  # Boxing Day (observed)
        date(2027, 3, 26),  # Good Friday
        date(2027, 3, 29),  # Easter Monday
        date(2022, 6, 2),  # spring bank holiday, moved from 30 May for the Jubilee
        date(2022, 6, 3),  # Platinum Jubilee
        date(2022, 9, 19),  # State funeral of Queen Elizabeth II
        date(2023, 5, 8),  # Coronation of King Charles III
        date(2027, 12, 27),  # both Christmas days fall at the weekend in 2027
        date(2027, 12, 28),
        date(2026, 1, 3),  # Saturday
        date(2026, 1, 4),  # Sunday
    ],
)
def test_not_working_days(day):
    assert not CAL.is_working_day(day)


@pytest.mark.parametrize(
    "day",
    [
        date(2022, 5, 30),  # usual spring bank holiday date, a working day in 2022
        date(2025, 12, 24),
        date(2025, 12, 29),
        date(2026, 12, 29),
        date(2027, 3, 25),
        date(2027, 3, 30),
        date(2026, 3, 17),  # St Patrick's Day is a bank holiday in Northern Ireland only
        date(2026, 11, 30),  # St Andrew's Day is a bank holiday in Scotland only
    ],
)
def test_working_days_that_look_like_holidays(day):
    assert CAL.is_working_day(day)


def test_next_working_day_is_strictly_after():
    assert CAL.next_working_day(date(2026, 1, 5)) == date(2026, 1, 6)
    assert CAL.next_working_day(date(2025, 12, 24)) == date(2025, 12, 29)
    assert CAL.next_working_day(date(2022, 6, 1)) == date(2022, 6, 6)


@pytest.mark.parametrize(
    ("start", "due"),
    [
        (date(2026, 1, 5), date(2026, 1, 5)),  # Monday: the same day
        (date(2026, 1, 10), date(2026, 1, 12)),  # Saturday: the Monday
        (date(2026, 5, 25), date(2026, 5, 26)),  # spring bank holiday: the Tuesday
        (date(2025, 12, 25), date(2025, 12, 29)),  # Christmas Day: after Boxing Day and the weekend
    ],
)
def test_zero_working_days(start, due):
    assert CAL.working_days(0, start) == end_of(due)


def test_event_late_utc_is_next_day_in_london():
    # 23:30 UTC on 30 June is 00:30 BST on Wednesday 1 July.
    event = "2026-06-30T23:30:00Z"
    assert CAL.working_days(0, event) == end_of(date(2026, 7, 1))
    assert CAL.working_days(1, event) == end_of(date(2026, 7, 2))
    assert CAL.working_days(1, datetime(2026, 6, 30, 23, 30, tzinfo=timezone.utc)) == end_of(
        date(2026, 7, 2)
    )


def test_event_late_utc_in_winter_stays_same_day():
    # No offset in winter: 23:30 UTC on Friday 9 January is still the Friday in London.
    assert CAL.working_days(1, "2026-01-09T23:30:00Z") == end_of(date(2026, 1, 12))


@pytest.mark.parametrize(
    ("start", "offset"),
    [
        (date(2026, 7, 1), timedelta(hours=1)),
        (date(2026, 1, 5), timedelta(0)),
        # The event is before the clocks go forward, the deadline after.
        (date(2026, 3, 27), timedelta(hours=1)),
        # And the other way in October.
        (date(2026, 10, 23), timedelta(0)),
    ],
)
def test_working_days_end_of_day_offset(start, offset):
    due = CAL.working_days(5, start)
    assert (due.hour, due.minute, due.second, due.microsecond) == (23, 59, 59, 0)
    assert due.utcoffset() == offset
    assert due.tzinfo is LONDON


def test_working_days_accepts_iso_strings():
    assert CAL.working_days(15, "2025-12-01") == end_of(date(2025, 12, 22))
    assert CAL.working_days(15, "2025-12-01T09:15:00+00:00") == end_of(date(2025, 12, 22))
    assert CAL.working_days(15, "2025-12-01T09:15:00Z").isoformat() == "2025-12-22T23:59:59+00:00"


@pytest.mark.parametrize("n", [-1, 1.5, 2.0, True, "3", None])
def test_working_days_needs_a_non_negative_whole_number(n):
    with pytest.raises(ValueError):
        CAL.working_days(n, date(2026, 1, 5))


def test_working_days_and_between_agree():
    # Counting the working days up to a deadline gives back the N that made it.
    start = date(2025, 11, 20)
    for offset in range(0, 60, 3):
        day = start + timedelta(days=offset)
        for n in (1, 2, 5, 10, 20, 45):
            assert CAL.working_days_between(day, CAL.working_days(n, day)) == n


# --- closure days -------------------------------------------------------------------


def test_closure_days_are_skipped():
    council = WorkingCalendar([date(2025, 12, 29), date(2025, 12, 30), date(2025, 12, 31)])
    assert not council.is_working_day(date(2025, 12, 29))
    assert CAL.working_days(1, date(2025, 12, 24)) == end_of(date(2025, 12, 29))
    assert council.working_days(1, date(2025, 12, 24)) == end_of(date(2026, 1, 2))
    assert council.working_days(0, date(2025, 12, 30)) == end_of(date(2026, 1, 2))
    assert council.working_days_between(date(2025, 12, 24), date(2026, 1, 2)) == 1
    assert CAL.working_days_between(date(2025, 12, 24), date(2026, 1, 2)) == 4


def test_closure_on_a_weekend_or_holiday_changes_nothing():
    council = WorkingCalendar([date(2026, 1, 3), date(2025, 12, 25)])
    assert council.working_days(10, date(2025, 12, 15)) == CAL.working_days(10, date(2025, 12, 15))
    assert council.working_days_between(date(2025, 12, 1), date(2026, 1, 31)) == CAL.working_days_between(
        date(2025, 12, 1), date(2026, 1, 31)
    )


def test_closure_days_must_be_dates():
    with pytest.raises(ValueError):
        WorkingCalendar(["2026-12-29"])
    with pytest.raises(ValueError):
        WorkingCalendar([datetime(2026, 12, 29)])


@pytest.mark.parametrize(
    ("text", "days"),
    [
        (None, []),
        ("", []),
        ("  , ", []),
        ("2026-12-29", [date(2026, 12, 29)]),
        ("2026-12-29,2026-12-30", [date(2026, 12, 29), date(2026, 12, 30)]),
        (" 2026-12-29, 2026-12-30\n2026-12-31 ", [date(2026, 12, 29), date(2026, 12, 30), date(2026, 12, 31)]),
    ],
)
def test_parse_closures(text, days):
    assert parse_closures(text) == days


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("2026-12-29,tomorrow", "tomorrow"),
        ("29/12/2026", "29/12/2026"),
        ("2026-12-29, 2026-02-30", "2026-02-30"),
        ("2026-12-29T00:00", "2026-12-29T00:00"),
        ("20261229", "20261229"),
    ],
)
def test_parse_closures_names_the_bad_item(text, bad):
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        parse_closures(text)


# --- hours, weeks, months -----------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "start", "due"),
    [
        # Clocks go forward at 01:00 UTC on 29 March 2026: 24 hours later reads 13:00 BST.
        (24, london(2026, 3, 28, 12), london(2026, 3, 29, 13)),
        # Clocks go back at 01:00 UTC on 25 October 2026: 24 hours later reads 11:00 GMT.
        (24, london(2026, 10, 24, 12), london(2026, 10, 25, 11)),
        (72, london(2026, 6, 1, 9), london(2026, 6, 4, 9)),
        (1.5, london(2026, 6, 1, 9), london(2026, 6, 1, 10, 30)),
        (0, london(2026, 6, 1, 9), london(2026, 6, 1, 9)),
    ],
)
def test_hours_are_clock_time(n, start, due):
    result = CAL.hours(n, start)
    assert result == due
    assert result.utcoffset() == due.utcoffset()
    # In UTC: subtracting two datetimes sharing a tzinfo gives the wall-clock difference.
    assert result.astimezone(timezone.utc) - start.astimezone(timezone.utc) == timedelta(hours=n)


def test_hours_across_clock_change_isoformat():
    assert CAL.hours(24, "2026-03-28T12:00:00+00:00").isoformat() == "2026-03-29T13:00:00+01:00"
    assert CAL.hours(24, "2026-10-24T12:00:00+01:00").isoformat() == "2026-10-25T11:00:00+00:00"
    assert CAL.hours(2, "2026-03-29T00:30:00").isoformat() == "2026-03-29T03:30:00+01:00"


@pytest.mark.parametrize("n", [-1, "24", None, True, float("nan")])
def test_hours_rejects_bad_n(n):
    with pytest.raises(ValueError):
        CAL.hours(n, london(2026, 6, 1, 9))


@pytest.mark.parametrize(
    ("n", "start", "due"),
    [
        (12, london(2026, 1, 5, 9), london(2026, 3, 30, 9)),
        # Across the spring change: same 09:00 wall-clock time, now BST.
        (1, london(2026, 3, 27, 9), london(2026, 4, 3, 9)),
        # Across the autumn change: same 14:00, now GMT.
        (2, london(2026, 10, 20, 14), london(2026, 11, 3, 14)),
    ],
)
def test_weeks_keep_wall_clock_time(n, start, due):
    result = CAL.weeks(n, start)
    assert result == due
    assert result.utcoffset() == due.utcoffset()


def test_twelve_weeks_is_84_days():
    start = london(2026, 2, 10, 16, 45)
    result = CAL.weeks(12, start)
    assert result.date() - start.date() == timedelta(days=84)
    assert result.time() == start.time()


def test_weeks_onto_a_skipped_hour_moves_forward():
    # 01:30 on 29 March 2026 does not exist in London; the clocks jump to 02:00 BST.
    assert CAL.weeks(1, london(2026, 3, 22, 1, 30)).isoformat() == "2026-03-29T02:30:00+01:00"


@pytest.mark.parametrize(
    ("n", "start", "due"),
    [
        (1, london(2026, 1, 31, 9), london(2026, 2, 28, 9)),
        (1, london(2028, 1, 31, 9), london(2028, 2, 29, 9)),  # leap year
        (6, london(2026, 8, 31, 9), london(2027, 2, 28, 9)),
        (3, london(2026, 11, 15, 9), london(2027, 2, 15, 9)),  # into the next year
        (12, london(2026, 5, 10, 9), london(2027, 5, 10, 9)),
        (0, london(2026, 5, 10, 9), london(2026, 5, 10, 9)),
        # Across the autumn change: same wall-clock time, now GMT.
        (1, london(2026, 10, 15, 9), london(2026, 11, 15, 9)),
        # Across the spring change: same wall-clock time, now BST.
        (1, london(2026, 3, 15, 18), london(2026, 4, 15, 18)),
    ],
)
def test_months(n, start, due):
    result = CAL.months(n, start)
    assert result == due
    assert result.utcoffset() == due.utcoffset()


def test_months_and_weeks_accept_dates_and_strings():
    assert CAL.months(1, date(2026, 1, 31)) == london(2026, 2, 28)
    assert CAL.months(1, "2026-01-31").isoformat() == "2026-02-28T00:00:00+00:00"
    assert CAL.weeks(1, "2026-03-25T23:30:00Z").isoformat() == "2026-04-01T23:30:00+01:00"


@pytest.mark.parametrize("method", ["weeks", "months"])
@pytest.mark.parametrize("n", [-1, 1.5, "2", None])
def test_weeks_months_reject_bad_n(method, n):
    with pytest.raises(ValueError):
        getattr(CAL, method)(n, london(2026, 6, 1, 9))


# --- working_days_between -----------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "count"),
    [
        (date(2026, 1, 5), date(2026, 1, 5), 0),  # same day
        (date(2026, 1, 6), date(2026, 1, 5), 0),  # end before start
        (date(2026, 1, 5), date(2026, 1, 6), 1),
        (date(2026, 1, 9), date(2026, 1, 12), 1),  # Friday to Monday
        (date(2026, 1, 9), date(2026, 1, 11), 0),  # Friday to Sunday
        (date(2026, 1, 10), date(2026, 1, 12), 1),  # Saturday to Monday
        (date(2026, 1, 5), date(2026, 1, 19), 10),
        (date(2025, 12, 1), date(2025, 12, 22), 15),
        # 25, 26 Dec and 1 Jan are bank holidays: 29, 30, 31 Dec and 2 Jan are left.
        (date(2025, 12, 24), date(2026, 1, 2), 4),
        # Ending on a holiday does not count it.
        (date(2026, 5, 22), date(2026, 5, 25), 0),
        (date(2025, 11, 3), date(2026, 1, 8), 45),
    ],
)
def test_working_days_between(start, end, count):
    assert CAL.working_days_between(start, end) == count


def test_working_days_between_uses_london_days():
    # 23:30 UTC on 30 June is already 1 July in London, so a July 1 event is the same day.
    assert CAL.working_days_between("2026-06-30T23:30:00Z", date(2026, 7, 1)) == 0
    assert CAL.working_days_between("2026-06-30T12:00:00Z", "2026-07-01T00:30:00+01:00") == 1
    # Times of day do not matter, only the days.
    assert CAL.working_days_between(london(2026, 1, 5, 23, 0), london(2026, 1, 6, 0, 1)) == 1


def test_working_days_between_matches_a_day_by_day_count():
    start = date(2021, 12, 20)
    for span in (1, 7, 30, 200, 400, 1200):
        end = start + timedelta(days=span)
        walked = sum(CAL.is_working_day(start + timedelta(days=i)) for i in range(1, span + 1))
        assert CAL.working_days_between(start, end) == walked


# --- to_london ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-06-30T23:30:00Z", "2026-07-01T00:30:00+01:00"),
        ("2026-01-15T09:00:00+05:30", "2026-01-15T03:30:00+00:00"),
        ("2026-07-01T09:00:00", "2026-07-01T09:00:00+01:00"),  # naive is London time
        ("2026-01-15T09:00", "2026-01-15T09:00:00+00:00"),
        ("2026-07-01", "2026-07-01T00:00:00+01:00"),  # a bare date is London midnight
        ("  2026-07-01T09:00:00+01:00 ", "2026-07-01T09:00:00+01:00"),
        (date(2026, 1, 15), "2026-01-15T00:00:00+00:00"),
        (datetime(2026, 7, 1, 9), "2026-07-01T09:00:00+01:00"),
        (datetime(2026, 7, 1, 8, tzinfo=timezone.utc), "2026-07-01T09:00:00+01:00"),
        (london(2026, 12, 1, 17), "2026-12-01T17:00:00+00:00"),
    ],
)
def test_to_london(value, expected):
    result = to_london(value)
    assert result.tzinfo is LONDON
    assert result.isoformat() == expected


@pytest.mark.parametrize("value", ["garbage", "", "2026-02-30", "2026-07-01T25:00", "1/7/2026", None, 42, 1.5])
def test_to_london_rejects_bad_input(value):
    with pytest.raises(ValueError):
        to_london(value)


def test_to_london_message_names_the_value():
    with pytest.raises(ValueError, match="'garbage'.*ISO 8601"):
        to_london("garbage")


@pytest.mark.parametrize("method", ["working_days", "hours", "weeks", "months"])
def test_helpers_reject_a_bad_event(method):
    with pytest.raises(ValueError):
        getattr(CAL, method)(1, "not a date")


# --- caching ------------------------------------------------------------------------


def test_holidays_are_looked_up_once_per_year():
    _bank_holidays.cache_clear()
    calendar = WorkingCalendar()
    for _ in range(3):
        calendar.working_days(30, date(2031, 3, 1))
        calendar.working_days_between(date(2031, 1, 1), date(2031, 12, 31))
    assert _bank_holidays.cache_info().misses == 1


@pytest.mark.parametrize("instant", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00"])
def test_an_instant_london_cannot_show_is_a_value_error_not_an_overflow(instant):
    # Callers (forms, expressions) refuse a bad date as a ValueError; an OverflowError was a 500.
    with pytest.raises(ValueError, match="outside the dates London's clock can show"):
        to_london(instant)
