"""documents

Revision ID: 7ffd4c155d7f
Revises: 2fefc116bb5f
Create Date: 2026-11-24 22:56:05.124559
"""
from alembic import op
import sqlalchemy as sa


revision = '7ffd4c155d7f'
down_revision = '2fefc116bb5f'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('document',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('instance_id', sa.String(length=36), nullable=True),
    sa.Column('child_id', sa.String(length=80), nullable=True),
    sa.Column('kind', sa.String(length=80), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('activity_id', sa.String(length=120), nullable=True),
    sa.Column('html', sa.Text(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_child_id'), ['child_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_document_instance_id'), ['instance_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_instance_id'))
        batch_op.drop_index(batch_op.f('ix_document_child_id'))

    op.drop_table('document')
