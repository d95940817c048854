"""One user action, one transaction: commit, or roll back and say why."""
from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..engine import EngineError
from ..errors import Conflict, Invalid
from ..extensions import db


def commit() -> None:
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise Conflict("someone else changed this process instance at the same time; reload and try again") from None
    except IntegrityError:
        db.session.rollback()
        raise Conflict("the change clashes with one made at the same time; reload and try again") from None


def engine_error(exc: EngineError) -> Invalid:
    db.session.rollback()
    return Invalid(str(exc), {"engine": [str(exc)]})
