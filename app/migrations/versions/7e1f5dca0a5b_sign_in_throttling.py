"""sign-in throttling and sign out everywhere

Revision ID: 7e1f5dca0a5b
Revises: 7ffd4c155d7f
Create Date: 2026-11-24 23:52:19.531235
"""
from alembic import op
import sqlalchemy as sa


revision = '7e1f5dca0a5b'
down_revision = '7ffd4c155d7f'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_sign_ins', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('session_epoch')
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_sign_ins')

