"""api tokens: expiry, a role, who revoked them

Revision ID: b3c4d5e6f7a8
Revises: 3b8c0d2e9f41
Create Date: 2026-11-25 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'b3c4d5e6f7a8'
down_revision = '3b8c0d2e9f41'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing tokens get no expiry: they keep working, as before, until revoked.
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('revoked_by', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('role', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_column('role')
        batch_op.drop_column('revoked_by')
        batch_op.drop_column('expires_at')
