"""recording pipeline: encryption key id, sizes, stage, language, waveform peaks; audit index

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 20:40:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import callcenter.models.base  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entries_object', ['object_type', 'object_id'], unique=False)
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('plain_size', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('stored_size', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('stage', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('peaks', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))
        batch_op.add_column(sa.Column('transcribed_at', callcenter.models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_object')
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        for column in ('transcribed_at', 'peaks', 'language', 'stage', 'stored_size',
                       'plain_size', 'key_id'):
            batch_op.drop_column(column)
