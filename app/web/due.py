"""Due dates in the words staff use: "due today", "due in 2 working days", "overdue by 3
working days"."""
from __future__ import annotations

from datetime import datetime

from ..calendar import WorkingCalendar, to_london


def _plural(n: int) -> str:
    return f"{n} working day{'s' if n != 1 else ''}"


def due_words(calendar: WorkingCalendar, due: datetime | None, now: datetime) -> tuple[str, str]:
    """(words, GOV.UK tag colour) for a due date as of ``now``."""
    if due is None:
        return "no due date", "grey"
    if due < now:
        late = calendar.working_days_between(due, now)
        return (f"overdue by {_plural(late)}" if late else "overdue"), "red"
    if to_london(due).date() == to_london(now).date():
        return "due today", "orange"
    ahead = calendar.working_days_between(now, due)
    if ahead == 0:
        return "due on the next working day", "yellow"
    return f"due in {_plural(ahead)}", "yellow" if ahead <= 2 else "blue"
