"""Schema migrations (Alembic), run by `pathways init-db` and by the test set-up."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig

from .extensions import db

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config(connection) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(revision: str = "head") -> None:
    """Bring the database of the current app up to ``revision``."""
    with db.engine.begin() as connection:
        command.upgrade(_config(connection), revision)


def revision(message: str) -> None:
    """Write a new migration from the difference between the models and the database."""
    with db.engine.begin() as connection:
        command.revision(_config(connection), message=message, autogenerate=True)


class NoSuchRole(Exception):
    pass


def grant_app_role(role: str) -> None:
    """Let ``role`` (PostgreSQL) read and write every table, append to the audit and nothing
    more: no UPDATE, DELETE or TRUNCATE on audit_event, no changes to the schema version,
    and, not owning the tables, no way to disable the audit's trigger. Run after every
    upgrade, so tables a migration adds are granted too."""
    with db.engine.begin() as connection:
        if connection.dialect.name != "postgresql":
            raise ValueError("an application role applies to PostgreSQL only")
        if connection.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first() is None:
            raise NoSuchRole(f"there is no PostgreSQL role {role!r}; create it first (CREATE ROLE {role} LOGIN PASSWORD ...)")
        name = connection.dialect.identifier_preparer.quote(role)
        schema = connection.dialect.identifier_preparer.quote(connection.execute(sa.text("SELECT current_schema()")).scalar_one())
        for statement in (
            f"GRANT USAGE ON SCHEMA {schema} TO {name}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {name}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {name}",
            f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_event FROM {name}",
            f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM {name}",
        ):
            connection.execute(sa.text(statement))
