"""team scope: the child a case is about, and the teams a user oversees

Revision ID: 3b8c0d2e9f41
Revises: 7e1f5dca0a5b
Create Date: 2026-12-01 21:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '3b8c0d2e9f41'
down_revision = '7e1f5dca0a5b'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('teams', sa.JSON(), server_default='[]', nullable=False))
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('child_id', sa.String(length=80), nullable=True))
        batch_op.create_index(batch_op.f('ix_process_instance_child_id'), ['child_id'], unique=False)
    # Existing cases: the child named in their variables.
    instances = sa.table('process_instance', sa.column('id', sa.String), sa.column('variables', sa.JSON),
                         sa.column('child_id', sa.String))
    conn = op.get_bind()
    for instance_id, variables in conn.execute(sa.select(instances.c.id, instances.c.variables)).all():
        child_id = (variables or {}).get('childId') if isinstance(variables, dict) else None
        if child_id not in (None, ''):
            conn.execute(instances.update().where(instances.c.id == instance_id).values(child_id=str(child_id)[:80]))


def downgrade() -> None:
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_instance_child_id'))
        batch_op.drop_column('child_id')
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('teams')
