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


@pytest.fixture
def app_role():
    """A login role of this run's own on the real server, dropped afterwards."""
    import uuid

    from conftest import POSTGRES_URL
    from app.config import normalise_database_url

    admin = sa.create_engine(normalise_database_url(POSTGRES_URL), isolation_level="AUTOCOMMIT",
                             poolclass=sa.pool.NullPool)
    role = f"pathways_app_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE ROLE "{role}" LOGIN'))
    yield role
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
    admin.dispose()


def test_an_application_role_works_the_cases_and_can_only_append_to_the_audit(app_role, monkeypatch):
    from click.testing import CliRunner

    from app.cli import cli
    from app.models import User
    from app.services import instances, tasks
    from conftest import make_app, seed, throwaway_postgres

    with throwaway_postgres() as owner_url:
        monkeypatch.setenv("DATABASE_URL", owner_url)
        monkeypatch.delenv("REDIS_URL", raising=False)
        runner = CliRunner()
        result = runner.invoke(cli, ["init-db", "--app-role", "no_such_role_here"])
        assert result.exit_code == 1 and "there is no PostgreSQL role 'no_such_role_here'" in result.output
        result = runner.invoke(cli, ["init-db", "--app-role", app_role], catch_exceptions=False)
        assert result.exit_code == 0 and f"role {app_role} may read and write" in result.output
        owner = make_app(owner_url)
        seed(owner)
        with owner.app_context():
            db.engine.dispose()

        app_url = sa.engine.make_url(owner_url).set(username=app_role).render_as_string(hide_password=False)
        app = make_app(app_url)  # migrations already at head: nothing to do, nothing refused
        try:
            with app.app_context():
                engine = app.extensions["pathways.engine"]
                front_door, atm = db.session.get(User, "front.door"), db.session.get(User, "nel.ai.atm")
                instance = instances.start(engine, front_door, "nel_section17", "ROLE-1",
                                           {"childId": "C-1", "referralId": "R-1",
                                            "referralReceivedAt": "2026-12-01T09:00:00Z",
                                            "strategyDiscussionRecommended": False})
                review = instance.active_tasks[0]
                tasks.complete(engine, atm, review.id, {"reviewDecision": "accept"})
                for statement in ("UPDATE audit_event SET type = 'rewritten'", "DELETE FROM audit_event",
                                  "TRUNCATE audit_event", "ALTER TABLE audit_event DISABLE TRIGGER ALL",
                                  "DELETE FROM alembic_version", "DROP TABLE task"):
                    with pytest.raises(sa.exc.ProgrammingError, match="permission denied|must be owner"):
                        with db.engine.begin() as conn:
                            conn.execute(sa.text(statement))
                with db.engine.connect() as conn:
                    assert conn.execute(sa.text("SELECT count(*) FROM audit_event WHERE type = 'task_completed'")) \
                        .scalar_one() == 1
        finally:
            with app.app_context():
                db.engine.dispose()
