"""Due dates in the words staff use: "due today", "due in 2 working days", "overdue by 3
working days"."""
from __future__ import annotations

from datetime import datetime

from ..calendar import WorkingCalendar, to_london


def _plural(n: int) -> str:
    return f"{n} working day{'s' if n != 1 else ''}"


def _when(due: datetime) -> str:
    """The day, in London, and the time when the deadline is set in hours (one at the end
    of a day is met by doing it that day): "Saturday 5 December at 03:17"."""
    local = to_london(due)
    day = f"{local:%A} {local.day} {local:%B}"
    return day if (local.hour, local.minute) == (23, 59) else f"{day} at {local:%H:%M}"


def due_words(calendar: WorkingCalendar, due: datetime | None, now: datetime) -> tuple[str, str]:
    """(words, GOV.UK tag colour) for a due date as of ``now``: the working days staff count
    in, and the day itself (a 24-hour deadline on a Friday falls on Saturday, not Monday)."""
    if due is None:
        return "no due date", "grey"
    if due < now:
        late = calendar.working_days_between(due, now)
        return (f"overdue by {_plural(late)}" if late else "overdue") + f" (due {_when(due)})", "red"
    today, day = to_london(now).date(), to_london(due).date()
    if day == today:
        local = to_london(due)
        return ("due today" if (local.hour, local.minute) == (23, 59) else f"due today at {local:%H:%M}"), "orange"
    ahead = calendar.working_days_between(now, due)
    if (day - today).days == 1:
        return f"due tomorrow ({_when(due)})", "orange" if ahead == 0 else "yellow"
    if ahead == 0:
        return f"due on {_when(due)}", "yellow"
    return f"due in {_plural(ahead)} ({_when(due)})", "yellow" if ahead <= 2 else "blue"
