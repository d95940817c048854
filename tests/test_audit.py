"""The audit is append-only: the application never changes or deletes an audit event, and on
PostgreSQL the database refuses UPDATE, DELETE and TRUNCATE on audit_event whoever asks."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent


@pytest.fixture
def event_id(app):
    with app.app_context():
        event = AuditEvent(at=datetime.now(timezone.utc), type="test_event", user="tester", details={"n": 1})
        db.session.add(event)
        db.session.commit()
        return event.id


@pytest.mark.parametrize("change", ["update", "delete"])
def test_the_application_cannot_change_an_audit_event(app, event_id, change):
    with app.app_context():
        event = db.session.get(AuditEvent, event_id)
        if change == "update":
            event.type = "rewritten"
        else:
            db.session.delete(event)
        with pytest.raises(RuntimeError, match="append-only"):
            db.session.commit()
        db.session.rollback()
        assert db.session.get(AuditEvent, event_id).type == "test_event"


@pytest.mark.parametrize("statement", [
    "UPDATE audit_event SET type = 'rewritten'",
    "DELETE FROM audit_event",
    "DELETE FROM audit_event WHERE false",
    "TRUNCATE audit_event",
])
def test_postgresql_refuses_changes_to_the_audit(app, event_id, statement):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the trigger is PostgreSQL's")
        with pytest.raises(sa.exc.DBAPIError, match="audit_event is append-only"):
            with db.engine.begin() as conn:
                conn.execute(sa.text(statement))
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT type FROM audit_event WHERE id = :id"), {"id": event_id}).scalar_one() \
                == "test_event"
            # New rows still go in.
            conn.execute(sa.insert(AuditEvent).values(at=datetime.now(timezone.utc), type="appended", details={}))
            conn.commit()
