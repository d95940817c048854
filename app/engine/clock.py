"""The engine's clock, injectable.

SpiffWorkflow's timers compare against `datetime.now(timezone.utc)` inside its timer
module, so the time cannot be passed in. The adapter gives that module a `datetime`
whose `now()` answers the time of the operation in progress: real time in production,
a chosen instant for `timers run-due --as-of` and for tests. Outside an operation it is
the real clock.
"""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Iterator

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer

_operation_now: ContextVar[datetime | None] = ContextVar("pathways_engine_now", default=None)


class _EngineDatetime(datetime):
    @classmethod
    def now(cls, tz=None):  # noqa: D102 - same contract as datetime.now
        fixed = _operation_now.get()
        if fixed is None:
            return datetime.now(tz)
        return fixed.astimezone(tz) if tz is not None else fixed.astimezone().replace(tzinfo=None)


_spiff_timer.datetime = _EngineDatetime


@contextlib.contextmanager
def frozen_at(instant: datetime) -> Iterator[None]:
    """Run engine steps as if it were ``instant`` (an aware datetime)."""
    if instant.tzinfo is None:
        raise ValueError("the engine clock needs an aware datetime")
    token = _operation_now.set(instant.astimezone(timezone.utc))
    try:
        yield
    finally:
        _operation_now.reset(token)


def operation_now() -> datetime:
    """The instant of the engine operation in progress (an aware UTC datetime)."""
    return _operation_now.get() or datetime.now(timezone.utc)


def operation_instant() -> datetime | None:
    """The instant of the engine operation in progress, or None outside one."""
    return _operation_now.get()
