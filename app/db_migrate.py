"""Schema migrations (Alembic), run by `pathways init-db` and by the test set-up."""
from __future__ import annotations

from pathlib import Path

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
