"""The migrations build exactly the schema the models describe."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.extensions import db


def test_models_and_migrations_agree(backend):
    with backend.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_instance_state_is_compressed_with_lz4_on_postgresql(backend):
    with backend.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("a PostgreSQL column setting")
        compression = dict(db.session.execute(sa.text(
            "SELECT attname, attcompression FROM pg_attribute "
            "WHERE attrelid = 'process_instance'::regclass AND attname IN ('state', 'variables')")).all())
        db.session.rollback()
    assert compression == {"state": "l", "variables": "l"}
