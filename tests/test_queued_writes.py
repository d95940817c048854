"""The projection's rows (audit trail, tasks, timers) are written as batched statements with
the session's flush: they must behave as ORM rows would, kept by a commit, seen by a query
in the same transaction, dropped by a rollback or a closed session."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.services.projection import audit, now as projection_now

from conftest import statements_sent


def _types() -> list[str]:
    return list(db.session.execute(sa.select(AuditEvent.type).order_by(AuditEvent.id)).scalars())


def _started(api, label: str) -> dict:
    """A new nel_section17 case, its child and referral named by ``label``."""
    return api.post("/process-definitions/nel_section17/start", {"variables": {
        "childId": f"C-{label}", "referralId": f"R-{label}", "referralReceivedAt": "2026-12-01T08:00:00Z",
        "strategyDiscussionRecommended": False}}).json


def test_a_commit_with_nothing_else_to_flush_writes_the_queued_rows_in_order(app):
    with app.app_context():
        for n in range(3):
            audit(None, f"queued_{n}", "tester")
        db.session.commit()
    with app.app_context():
        assert [t for t in _types() if t.startswith("queued_")] == ["queued_0", "queued_1", "queued_2"]


def test_a_query_in_the_same_transaction_sees_the_queued_rows(app):
    with app.app_context():
        audit(None, "seen_before_commit", "tester")
        assert "seen_before_commit" in _types()
        db.session.rollback()
        assert "seen_before_commit" not in _types()


def test_a_rollback_drops_the_queued_rows_and_the_next_commit_does_not_write_them(app):
    with app.app_context():
        audit(None, "rolled_back", "tester")
        db.session.rollback()
        audit(None, "kept", "tester")
        db.session.commit()
    with app.app_context():
        types = _types()
        assert "kept" in types and "rolled_back" not in types


def test_a_closed_session_drops_the_queued_rows(app):
    with app.app_context():
        audit(None, "closed_unwritten", "tester")
        db.session.close()
        db.session.commit()
    with app.app_context():
        assert "closed_unwritten" not in _types()


def test_a_completion_sends_each_kind_of_projection_row_as_one_statement(app, api):
    started = _started(api, "Q1")
    task = next(t for t in started["activeTasks"] if t["activityId"] == "duty_atm_review")
    with statements_sent(app) as sent:
        done = api.as_("nel.ai.atm").post(f"/tasks/{task['id']}/complete",
                                          {"variables": {"reviewDecision": "accept"}}).json
    # (On SQLite the lock is a no-op UPDATE of the instance.)
    writes = [s.split(" (")[0].split(" SET ")[0].split(" WHERE ")[0] for s in sent
              if s.startswith(("INSERT", "UPDATE")) and "lock_version=process_instance.lock_version" not in s]
    # Several audit events and a new task with its groups, one statement each.
    assert len(done["activeTasks"]) == 1
    assert sorted(writes) == sorted(set(writes)), writes
    assert {"INSERT INTO audit_event", "INSERT INTO task", "INSERT INTO task_candidate_group",
            "UPDATE task", "UPDATE process_instance"} <= set(writes)
    with app.app_context():
        events = list(db.session.execute(sa.select(AuditEvent.type).where(
            AuditEvent.instance_id == started["id"]).order_by(AuditEvent.id)).scalars())
    # The order the action recorded them in.
    assert events.index("task_completed") < events.index("task_created", events.index("task_completed"))


def test_a_query_made_while_the_session_flushes_leaves_the_queue_to_that_flush(app):
    # An ORM load in the middle of a flush (a collection its cascades need, say) must not try
    # to flush again, as autoflush does not; the flush then writes the queued rows itself.
    from sqlalchemy.orm import Session

    def query_while_flushing(session, flush_context, instances):
        session.execute(sa.select(AuditEvent.id).limit(1)).all()

    with app.app_context():
        audit(None, "queued_across_a_flush", "tester")
        db.session.add(AuditEvent(at=projection_now(), type="orm_row", details={}))
        sa.event.listen(Session, "before_flush", query_while_flushing)
        try:
            db.session.flush()
        finally:
            sa.event.remove(Session, "before_flush", query_while_flushing)
        db.session.commit()
    with app.app_context():
        types = _types()
        assert "queued_across_a_flush" in types and "orm_row" in types


def test_rows_of_one_statement_that_name_different_columns_each_set_their_own(app, api):
    # A task's due date moving and another task ending are one UPDATE statement with
    # different columns: each row must set what it names, and only that.
    from datetime import datetime, timezone

    from app.models import Task
    from app.services.queued_writes import queue

    started = _started(api, "Q2")
    task_id = started["activeTasks"][0]["id"]
    update = sa.update(Task.__table__).where(Task.__table__.c.id == sa.bindparam("row_id"))
    due = datetime(2027, 7, 1, 16, tzinfo=timezone.utc)
    with app.app_context():
        queue(update, {"row_id": task_id, "due_at": due})
        queue(update, {"row_id": task_id, "assignee": "nel.ai.atm"})
        db.session.commit()
    with app.app_context():
        task = db.session.get(Task, task_id)
        assert (task.due_at, task.assignee, task.status) == (due, "nel.ai.atm", "active")


def test_a_queued_row_the_database_refuses_is_an_integrity_error_and_nothing_of_the_action_is_kept(app, api):
    # On PostgreSQL the rows go in one pipeline, whose errors arrive as it ends: they must
    # still be SQLAlchemy's errors, and the transaction must still end with nothing written.
    from app.models import Task
    from app.services.queued_writes import queue

    started = _started(api, "Q3")
    task_id = started["activeTasks"][0]["id"]
    with app.app_context():
        existing = db.session.get(Task, task_id)
        row = {c.name: getattr(existing, c.key) for c in Task.__table__.columns}
        db.session.rollback()
        audit(None, "before_the_refused_row", "tester")
        queue(sa.insert(Task.__table__).inline(), row)  # the same id again
        audit(None, "after_the_refused_row", "tester")
        with pytest.raises(sa.exc.IntegrityError):
            db.session.commit()
        db.session.rollback()
        audit(None, "after_the_rollback", "tester")
        db.session.commit()
    with app.app_context():
        types = _types()
        assert "after_the_rollback" in types
        assert "before_the_refused_row" not in types and "after_the_refused_row" not in types


def test_on_postgresql_the_queued_rows_of_a_completion_go_in_one_pipeline(app, api):
    # One round trip for the audit events, task and timer rows, rather than one each.
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite has no pipeline; its statements are calls into the library, not round trips")
    from psycopg import pq

    started = _started(api, "Q4")
    task = next(t for t in started["activeTasks"] if t["activityId"] == "duty_atm_review")
    pipelined: dict[str, bool] = {}

    def record(conn, cursor, statement, *args):
        status = conn.connection.dbapi_connection.pgconn.pipeline_status
        pipelined[" ".join(statement.split()[:3])] = status != pq.PipelineStatus.OFF

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", record)
        try:
            api.as_("nel.ai.atm").post(f"/tasks/{task['id']}/complete", {"variables": {"reviewDecision": "accept"}})
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", record)
    # The instance's new state too: under the lock it needs no check of the row it matched.
    assert all(pipelined[s] for s in ("INSERT INTO audit_event", "INSERT INTO task", "UPDATE task SET",
                                      "UPDATE process_instance SET")), pipelined
    # The reads are not (the lock, the open tasks and timers): their answers are needed at once.
    assert [k for k in pipelined if k.startswith("SELECT")], pipelined
    assert not any(v for k, v in pipelined.items() if k.startswith("SELECT")), pipelined


def test_on_postgresql_a_connection_lost_under_the_pipeline_is_sqlalchemys_disconnect(app):
    # The API answers 503 for a lost database only if the error is SQLAlchemy's.
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite has no server connection to lose")
    with app.app_context():
        pid = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        audit(None, "never_written", "tester")
        killer = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
        with killer.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        killer.dispose()
        with pytest.raises(sa.exc.OperationalError) as raised:
            db.session.commit()
        assert raised.value.connection_invalidated
        db.session.rollback()
    with app.app_context():
        assert "never_written" not in _types()


# The instance's own change is queued with the projection's rows when the action holds its
# lock and has not changed it through the ORM (see projection._write_instance).


def _cancel_snapshot(app, instance):
    from app.services.projection import stored_spec

    engine = app.extensions["pathways.engine"]
    return engine.cancel(instance.definition_id, stored_spec(instance.definition_id), instance.state)


def test_a_completion_moves_the_version_on_so_a_writer_that_read_before_it_fails(app, api):
    from sqlalchemy.orm import Session as OrmSession
    from sqlalchemy.orm.exc import StaleDataError

    from app.models import ProcessInstance

    started = _started(api, "W1")
    with app.app_context():
        # A session of its own (a request inside this app context would share db.session).
        other = OrmSession(db.engine, expire_on_commit=False)
        stale = other.get(ProcessInstance, started["id"])
        version = stale.lock_version
        other.commit()  # read, and the transaction ended: the object is kept as read
    task = started["activeTasks"][0]
    assert api.as_("nel.ai.atm").post(f"/tasks/{task['id']}/complete",
                                      {"variables": {"reviewDecision": "accept"}}).status_code == 200
    with app.app_context():
        stale.incident = "written over a newer version"
        with pytest.raises(StaleDataError):
            other.commit()
        other.close()
    with app.app_context():
        current = db.session.get(ProcessInstance, started["id"])
        assert current.lock_version == version + 1 and current.incident is None


def test_applying_a_snapshot_to_an_instance_not_locked_in_the_transaction_is_refused(app, api):
    from app.models import ProcessInstance
    from app.services.projection import apply_snapshot

    started = _started(api, "W2")
    with app.app_context():
        instance = db.session.get(ProcessInstance, started["id"])
        snapshot = _cancel_snapshot(app, instance)
        with pytest.raises(RuntimeError, match="without its lock"):
            apply_snapshot(instance, snapshot, "tester")
        db.session.rollback()


def test_changing_the_instance_after_its_snapshot_was_applied_is_refused(app, api):
    from app.models import InstanceStatus
    from app.services.projection import apply_snapshot, lock_instance

    started = _started(api, "W3")
    with app.app_context():
        instance = lock_instance(started["id"])
        apply_snapshot(instance, _cancel_snapshot(app, instance), "tester", ended_status=InstanceStatus.CANCELLED)
        instance.incident = "changed too late"
        with pytest.raises(RuntimeError, match="after its snapshot was applied"):
            db.session.flush()
        db.session.rollback()


def test_an_instance_the_action_changed_first_is_written_whole_by_the_orm(app, api):
    from app.models import InstanceStatus, ProcessInstance
    from app.services.projection import apply_snapshot, lock_instance

    started = _started(api, "W4")
    with app.app_context():
        instance = lock_instance(started["id"])
        version = instance.lock_version
        instance.incident = "noted before the snapshot"
        apply_snapshot(instance, _cancel_snapshot(app, instance), "tester", ended_status=InstanceStatus.CANCELLED)
        db.session.commit()
    with app.app_context():
        written = db.session.get(ProcessInstance, started["id"])
        assert (written.status, written.incident, written.lock_version) == (
            "cancelled", "noted before the snapshot", version + 1)
        assert written.ended_at is not None
