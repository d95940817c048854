"""Instance state and variables compressed with lz4 on PostgreSQL

Revision ID: d5e6f7a8b9c0
Revises: 5c2e7a1d9b30
Create Date: 2026-12-02 07:00:00

Every action rewrites an instance's state (tens of KB) whole. PostgreSQL compresses such
values with pglz by default; lz4 writes them in about two thirds of the time. Values are
recompressed only as they are next written, so this needs no rewrite of the table.
"""
from alembic import op
import sqlalchemy as sa


revision = 'd5e6f7a8b9c0'
down_revision = '5c2e7a1d9b30'
branch_labels = None
depends_on = None

COLUMNS = ("state", "variables")


def _lz4_available(bind) -> bool:
    # PostgreSQL 14 or later, built with lz4 (Debian's and the official images are).
    if bind.dialect.name != "postgresql" or bind.dialect.server_version_info < (14,):
        return False
    values = bind.execute(sa.text(
        "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")).scalar()
    return bool(values) and "lz4" in values


def upgrade() -> None:
    if not _lz4_available(op.get_bind()):
        return
    for column in COLUMNS:
        op.execute(f"ALTER TABLE process_instance ALTER COLUMN {column} SET COMPRESSION lz4")


def downgrade() -> None:
    if not _lz4_available(op.get_bind()):
        return
    for column in COLUMNS:
        op.execute(f"ALTER TABLE process_instance ALTER COLUMN {column} SET COMPRESSION DEFAULT")
