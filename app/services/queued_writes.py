"""Rows written as batched Core statements, as part of the session's unit of work.

The projection writes several rows per action (the audit trail, task and timer rows) that
nothing in the action reads back. Through the ORM each one is an object the unit of work
tracks, sorts and expires; measured on a task completion, that cost more than the
statements themselves. Queued here instead, they go to the database as one executemany
per statement (on PostgreSQL all of them in one round trip), right after the ORM's own
writes of the same flush (so a row they refer to, a newly started instance, is there
first), or before the commit if nothing else was flushed. A query the session autoflushes
for sees them, as it would see ORM objects; a rollback or a closed session drops them, as it
would drop ORM objects.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from ..extensions import db

_QUEUED = "pathways.queued_writes"


def queue(statement: sa.Executable, row: dict[str, Any]) -> None:
    """Send ``statement`` with ``row`` at the next flush, batched with the rows queued for
    the same statement with the same keys (an UPDATE sets the columns its row names, and
    one executemany sets the same ones in every row). Batches run in the order each was
    first queued; rows of one batch in the order queued."""
    session = db.session()
    if not session.in_transaction():
        # Begun now (no connection yet), so that a rollback or close ends it and drops the row.
        session.begin()
    session.info.setdefault(_QUEUED, {}).setdefault((statement, frozenset(row)), []).append(row)


def _write(session: Session) -> None:
    queued = session.info.pop(_QUEUED, None)
    if not queued:
        return
    connection = session.connection()
    with _pipelined(connection):
        for (statement, _keys), rows in queued.items():
            connection.execute(statement, rows)


@contextlib.contextmanager
def _pipelined(connection: sa.Connection) -> Iterator[None]:
    """On PostgreSQL, the block's statements go to the server in one round trip (psycopg's
    pipeline mode): none of them returns rows (the INSERTs are inline, without RETURNING)
    and nothing reads their results. An error the server raises surfaces as the pipeline
    ends, and leaves here as the SQLAlchemy error any other statement would have raised, so
    that a lost connection is still a 503 and a constraint still an IntegrityError."""
    dbapi = connection.dialect.loaded_dbapi
    if connection.dialect.driver != "psycopg" or not dbapi.Pipeline.is_supported():
        yield
        return
    raw = connection.connection.dbapi_connection
    try:
        with raw.pipeline():
            yield
    except dbapi.Error as exc:  # the driver's own: an error SQLAlchemy wrapped already is not one
        invalidated = connection.dialect.is_disconnect(exc, raw, None)
        if invalidated:
            connection.invalidate(exc)
        raise sa.exc.DBAPIError.instance(
            "queued projection writes", None, exc, dbapi.Error,
            connection_invalidated=invalidated, dialect=connection.dialect) from exc


def _flush_and_write(session: Session) -> None:
    # The ORM's pending rows first (after_flush then writes the queue); a session with
    # nothing else to flush writes it here.
    session.flush()
    _write(session)


@sa.event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context: Any) -> None:
    _write(session)


@sa.event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if _QUEUED in session.info:
        _flush_and_write(session)


@sa.event.listens_for(Session, "do_orm_execute")
def _before_query(state: ORMExecuteState) -> None:
    session = state.session
    # As autoflush does: not inside no_autoflush, nor during a flush (which loads what its
    # cascades need, and writes the queue itself when it ends).
    if state.is_select and session.autoflush and not session._flushing and _QUEUED in session.info:
        _flush_and_write(session)


@sa.event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_QUEUED, None)
