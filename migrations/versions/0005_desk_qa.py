"""agent desk, QA scorecards, admin (issue 5)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 20:30:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import callcenter.models.base  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('scorecards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_attempt_id', sa.String(length=36), nullable=False),
    sa.Column('recording_id', sa.Integer(), nullable=True),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('reviewer_id', sa.Integer(), nullable=True),
    sa.Column('checklist', sa.String(length=64), nullable=False),
    sa.Column('items', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('comments', sa.Text(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('created_at', callcenter.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_scorecards_agent_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['call_attempt_id'], ['call_attempts.id'], name=op.f('fk_scorecards_call_attempt_id_call_attempts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recording_id'], ['recordings.id'], name=op.f('fk_scorecards_recording_id_recordings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], name=op.f('fk_scorecards_reviewer_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scorecards'))
    )
    op.create_index('ix_scorecards_agent_created', 'scorecards', ['agent_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_scorecards_call_attempt_id'), 'scorecards', ['call_attempt_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_scorecards_call_attempt_id'), table_name='scorecards')
    op.drop_index('ix_scorecards_agent_created', table_name='scorecards')
    op.drop_table('scorecards')
