"""the OpenID Connect subject a user signed in with

Revision ID: c3a9e5b1d2f4
Revises: c4d5e6f7a8b9
Create Date: 2026-11-25 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = 'c3a9e5b1d2f4'
down_revision = 'c4d5e6f7a8b9'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('oidc_subject', sa.String(length=255), nullable=True))
        batch_op.create_index(batch_op.f('ix_user_account_oidc_subject'), ['oidc_subject'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_account_oidc_subject'))
        batch_op.drop_column('oidc_subject')
