"""case register: families, children, team episodes

Revision ID: 2fefc116bb5f
Revises: 408deef6e1ef
Create Date: 2026-11-24 22:48:20.167930
"""
from alembic import op
import sqlalchemy as sa


revision = '2fefc116bb5f'
down_revision = '408deef6e1ef'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('family',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('child',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('family_id', sa.String(length=80), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('date_of_birth', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['family_id'], ['family.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('child', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_child_family_id'), ['family_id'], unique=False)

    op.create_table('team_episode',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('child_id', sa.String(length=80), nullable=False),
    sa.Column('team', sa.String(length=80), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=300), nullable=True),
    sa.Column('instance_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['child_id'], ['child.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('team_episode', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_team_episode_child_id'), ['child_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_team_episode_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_team_episode_team'), ['team'], unique=False)

    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('child_id', sa.String(length=80), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_event_child_id'), ['child_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_child_id'))
        batch_op.drop_column('child_id')

    with op.batch_alter_table('team_episode', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_team_episode_team'))
        batch_op.drop_index(batch_op.f('ix_team_episode_instance_id'))
        batch_op.drop_index(batch_op.f('ix_team_episode_child_id'))

    op.drop_table('team_episode')
    with op.batch_alter_table('child', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_child_family_id'))

    op.drop_table('child')
    op.drop_table('family')
