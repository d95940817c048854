"""assessment steps: a task's assessment timescale in working days

Revision ID: 5c2e7a1d9b30
Revises: c3a9e5b1d2f4
Create Date: 2026-12-01 22:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '5c2e7a1d9b30'
down_revision = 'c3a9e5b1d2f4'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assessment_days', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_column('assessment_days')
