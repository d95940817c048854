"""timers owned by the database

Revision ID: 408deef6e1ef
Revises: 121c2a168505
Create Date: 2026-11-24 19:45:42.966556
"""
from alembic import op
import sqlalchemy as sa


revision = '408deef6e1ef'
down_revision = '121c2a168505'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('timer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('engine_task_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('fired_at', sa.DateTime(timezone=True), nullable=True))
    # Until now a timer row's id was its engine task's id.
    op.execute("UPDATE timer SET engine_task_id = id")
    with op.batch_alter_table('timer', schema=None) as batch_op:
        batch_op.alter_column('engine_task_id', existing_type=sa.String(length=36), nullable=False)
        batch_op.create_index(batch_op.f('ix_timer_engine_task_id'), ['engine_task_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('timer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_timer_engine_task_id'))
        batch_op.drop_column('fired_at')
        batch_op.drop_column('engine_task_id')

