"""One user action, one transaction: commit, or roll back and say why."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from flask import current_app

from ..engine import EngineError
from ..models import ProcessInstance
from ..timer_queue import schedule_quietly
from .projection import NEW_TIMERS
from ..errors import Conflict, Invalid
from ..extensions import db


COMMITTED = "pathways.committed"


def commit(answer: ProcessInstance | None = None) -> Any:
    """Commit the action; then hand any timers it created to the scheduler.

    ``answer``: the instance the caller shows once committed. It comes back as a detached
    copy of what was written, with the tasks and timers the action left it: committing
    expires every row the session holds, and showing them would read each one back.
    """
    new_timers = db.session.info.pop(NEW_TIMERS, [])
    try:
        db.session.flush()
        written = _written_instance(answer) if answer is not None else None
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise Conflict("someone else changed this process instance at the same time; reload and try again") from None
    except IntegrityError:
        db.session.rollback()
        raise Conflict("the change clashes with one made at the same time; reload and try again") from None
    # If the database goes away after this, the answer must not say nothing was saved.
    db.session.info[COMMITTED] = True
    schedule_quietly(current_app.extensions.get("pathways.timer_queue"), new_timers)
    return written


def engine_error(exc: EngineError) -> Invalid:
    db.session.rollback()
    return Invalid(str(exc), {"engine": [str(exc)]})


def _written_instance(instance: ProcessInstance) -> SimpleNamespace:
    copy = _written(instance)
    copy.definition = _written(instance.definition)
    # The projection's rows are plain values already (it writes them by statement).
    copy.active_tasks = list(vars(instance).get("active_tasks", []))
    copy.timer_list = list(vars(instance).get("timer_list", []))
    return copy


def _written(row: Any) -> SimpleNamespace:
    """A row's columns as flushed; deferred columns not loaded (a definition's spec) are left out."""
    state = sa.inspect(row)
    return SimpleNamespace(**{
        attr.key: getattr(row, attr.key) for attr in state.mapper.column_attrs
        if attr.key not in state.unloaded or not attr.deferred
    })
