"""One user action, one transaction: commit, or roll back and say why."""
from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from flask import current_app

from ..engine import EngineError
from ..timer_queue import schedule_quietly
from .projection import NEW_TIMERS
from ..errors import Conflict, Invalid
from ..extensions import db


COMMITTED = "pathways.committed"


def commit() -> None:
    """Commit the action; then hand any timers it created to the scheduler."""
    new_timers = db.session.info.pop(NEW_TIMERS, [])
    try:
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


def engine_error(exc: EngineError) -> Invalid:
    db.session.rollback()
    return Invalid(str(exc), {"engine": [str(exc)]})
