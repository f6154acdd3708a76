"""recordings store, encryption, transcript search (issue 4)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 20:30:00

"""
from alembic import op
import sqlalchemy as sa

import callcenter.models.base  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# The search index is made by hand (see TRANSCRIPT_SEARCH_OBJECTS in callcenter/models/call.py):
# PostgreSQL keeps a tsvector per segment, written by the indexer with positions of its own, so
# a word and the shorter words inside it share a position and phrases still match; SQLite keeps
# an FTS5 table keyed by the segment id. Diacritics are kept, as PostgreSQL's 'simple' does.
SQLITE_FTS = (
    "CREATE VIRTUAL TABLE transcript_fts USING fts5("
    "body, subwords, tokenize = 'unicode61 remove_diacritics 0')"
)


def upgrade():
    with op.batch_alter_table('transcript_segments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_text', sa.Text(), nullable=True))
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.create_index('ix_recordings_status', ['status'], unique=False)

    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE transcript_segments ADD COLUMN search_vector tsvector')
        op.execute(
            'CREATE INDEX ix_transcript_segments_search_vector '
            'ON transcript_segments USING gin (search_vector)'
        )
    else:
        op.execute(SQLITE_FTS)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX IF EXISTS ix_transcript_segments_search_vector')
        op.execute('ALTER TABLE transcript_segments DROP COLUMN IF EXISTS search_vector')
    else:
        op.execute('DROP TABLE IF EXISTS transcript_fts')

    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_index('ix_recordings_status')
    with op.batch_alter_table('transcript_segments', schema=None) as batch_op:
        batch_op.drop_column('search_text')
