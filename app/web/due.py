"""Due dates in the words staff use: "due today", "due in 2 working days", "overdue by 3
working days"."""
from __future__ import annotations

from datetime import datetime

from ..calendar import WorkingCalendar, to_london


def _plural(n: int) -> str:
    return f"{n} working day{'s' if n != 1 else ''}"


def _at(local: datetime) -> str:
    """The time of a deadline set in hours, as " at 03:17"; nothing for one at the end of a
    day (met by doing it that day)."""
    return "" if (local.hour, local.minute) == (23, 59) else f" at {local:%H:%M}"


def _when(local: datetime) -> str:
    """The day, in London, with the time when the deadline is set in hours: "Saturday 5
    December at 03:17"."""
    return f"{local:%A} {local.day} {local:%B}{_at(local)}"


def due_words(calendar: WorkingCalendar, due: datetime | None, now: datetime) -> tuple[str, str]:
    """(words, GOV.UK tag colour) for a due date as of ``now``: the working days staff count
    in, and the day itself (a 24-hour deadline on a Friday falls on Saturday, not Monday)."""
    if due is None:
        return "no due date", "grey"
    local = to_london(due)
    if due < now:
        late = calendar.working_days_between(due, now)
        return (f"overdue by {_plural(late)}" if late else "overdue") + f" (due {_when(local)})", "red"
    today = to_london(now).date()
    if local.date() == today:
        return f"due today{_at(local)}", "orange"
    ahead = calendar.working_days_between(now, due)
    if (local.date() - today).days == 1:
        return f"due tomorrow ({_when(local)})", "orange" if ahead == 0 else "yellow"
    if ahead == 0:
        return f"due on {_when(local)}", "yellow"
    return f"due in {_plural(ahead)} ({_when(local)})", "yellow" if ahead <= 2 else "blue"
