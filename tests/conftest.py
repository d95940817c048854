"""Test set-up: the API and pathway suites run once on SQLite and once on PostgreSQL.

PostgreSQL is the real server named by PATHWAYS_TEST_POSTGRES_URL (default: the local
`test` database); each run works in a database of its own, dropped afterwards.
"""
from __future__ import annotations

import contextlib
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app import create_app, db_migrate
from app.auth import issue_token
from app.cli import _create_user
from app.config import normalise_database_url
from app.demo import DEMO_REGISTER_TEAMS, DEMO_USERS
from app.extensions import db
from app.services import deployments

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("PATHWAYS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
TEST_NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
# The benchmark suite run with a handful of instances each (tests/test_benchmark_suite.py): it
# proves the benchmarks still run the code they measure; their figures and timing targets
# mean nothing at that size and are not checked.
BENCH_SMOKE = os.environ.get("PATHWAYS_BENCH_SMOKE") == "1"
RUNTIME_TABLES = ("audit_event", "timer", "task_candidate_group", "task", "process_instance", "document", "team_episode", "child",
                  "family")


def clear_tables(conn, tables) -> None:
    """Delete every row of ``tables`` between tests.

    On PostgreSQL audit_event refuses DELETE (a trigger). The test database's owner, who
    ran the migrations, disables that trigger for this transaction only: ALTER TABLE is
    transactional, so nothing else ever sees the audit unguarded, and the application's
    own connections cannot do it unless they own the table.
    """
    guarded = conn.dialect.name == "postgresql" and "audit_event" in tables
    if guarded:
        conn.execute(sa.text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
    for table in tables:
        conn.execute(sa.text(f"DELETE FROM {table}"))
    if guarded:
        conn.execute(sa.text("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only"))


@contextlib.contextmanager
def statements_sent(app):
    """The SQL statements ``app`` sends while the block runs (in an app context of its
    own), each with its whitespace collapsed."""
    sent: list[str] = []

    def record(conn, cursor, statement, *args):
        sent.append(" ".join(statement.split()))

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", record)
        try:
            yield sent
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", record)


@contextlib.contextmanager
def throwaway_postgres():
    """A PostgreSQL database of our own on the real server, dropped afterwards."""
    admin_url = normalise_database_url(POSTGRES_URL)
    name = f"pathways_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_database():
    with throwaway_postgres() as url:
        yield url


def make_app(database_url: str, **config: Any):
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True, "REDIS_URL": None, **config})
    # Tests run at a fixed instant so due dates and timers do not depend on the day they run.
    app.extensions["pathways.engine"].clock = lambda: TEST_NOW
    with app.app_context():
        db_migrate.upgrade()
    return app


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(request, tmp_path_factory):
    """A migrated database with bpmn/ and dmn/ deployed and the demo users, per backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'pathways.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_database")
    app = make_app(url)
    seed(app)
    yield app
    with app.app_context():
        db.engine.dispose()


def seed(app) -> None:
    """Demo users with a token each (in ``app.tokens``), and bpmn/, dmn/ and the fixtures deployed."""
    tokens = {}
    with app.app_context():
        for user_id, name, groups, roles, team in DEMO_USERS:
            user = _create_user(user_id, groups, roles, None, name, team, DEMO_REGISTER_TEAMS.get(user_id))
            tokens[user_id] = issue_token(user)
        db.session.commit()
        sources = [ROOT / "bpmn", ROOT / "dmn", ROOT / "tests" / "fixtures"]
        files = deployments.files_from_paths([p for p in sources if p.exists()])
        deployments.deploy(files, app.config["PATHWAYS_MAX_FILE_BYTES"], "tests")
    app.tokens = tokens


@pytest.fixture
def app(backend):
    yield backend
    backend.extensions["pathways.engine"].clock = lambda: TEST_NOW  # a test may have moved it on
    with backend.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            clear_tables(conn, RUNTIME_TABLES)


class Api:
    """A JSON client that acts as one demo user at a time."""

    def __init__(self, app, user: str | None = None):
        self.app = app
        self.client = app.test_client()
        self.user = user

    def as_(self, user: str) -> "Api":
        return Api(self.app, user)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.app.tokens[self.user]}"} if self.user else {}

    def get(self, path: str, **params: Any):
        return _closed(self.client.get(f"/api/v1{path}", query_string=params, headers=self._headers()))

    def patch(self, path: str, json: Any = None):
        return _closed(self.client.patch(f"/api/v1{path}", headers=self._headers(), json=json or {}))

    def post(self, path: str, json: Any = None, **kwargs: Any):
        if "data" not in kwargs:
            kwargs["json"] = json if json is not None else {}
        return _closed(self.client.post(f"/api/v1{path}", headers=self._headers(), **kwargs))


def _closed(response):
    # Read the body, then close: closing releases the upload's temporary file.
    response.get_data()
    response.close()
    return response


@pytest.fixture
def api(app) -> Api:
    return Api(app, "front.door")


@pytest.fixture
def timers_run_due(app, monkeypatch):
    """`pathways timers run-due --as-of`, as an operator runs it against the app's database."""
    from click.testing import CliRunner

    from app.cli import cli

    def run(as_of: str) -> str:
        monkeypatch.setenv("DATABASE_URL", app.config["SQLALCHEMY_DATABASE_URI"])
        monkeypatch.delenv("REDIS_URL", raising=False)
        monkeypatch.setenv("PATHWAYS_ALLOW_CLOCK_OVERRIDE", "1")
        result = CliRunner().invoke(cli, ["timers", "run-due", "--as-of", as_of], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return run
