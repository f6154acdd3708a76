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

# The search index is made by hand (see TRANSCRIPT_SEARCH_OBJECTS in callcenter/models/call.py).
# PostgreSQL: a narrow table of its own, one row per segment: the tsvector (written by the
# indexer with positions of its own, so a word and the shorter words inside it share a position
# and phrases still match) and copies of the call's filter columns, so a search never reads the
# wide segment rows (words JSON, text) nor joins to filter. SQLite: an FTS5 table keyed by the
# segment id. Diacritics are kept, as PostgreSQL's 'simple' does.
SQLITE_FTS = (
    "CREATE VIRTUAL TABLE transcript_fts USING fts5("
    "body, subwords, tokenize = 'unicode61 remove_diacritics 0')"
)
PG_SEARCH_TABLE = """
CREATE TABLE transcript_search (
    segment_id integer NOT NULL,
    search_vector tsvector NOT NULL,
    campaign_id integer,
    agent_id integer,
    patient_id integer,
    started_at timestamp with time zone NOT NULL,
    speaker varchar(7) NOT NULL,
    CONSTRAINT pk_transcript_search PRIMARY KEY (segment_id),
    CONSTRAINT fk_transcript_search_segment_id_transcript_segments FOREIGN KEY (segment_id)
        REFERENCES transcript_segments (id) ON DELETE CASCADE,
    CONSTRAINT fk_transcript_search_campaign_id_campaigns FOREIGN KEY (campaign_id)
        REFERENCES campaigns (id) ON DELETE SET NULL,
    CONSTRAINT fk_transcript_search_agent_id_users FOREIGN KEY (agent_id)
        REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT fk_transcript_search_patient_id_patients FOREIGN KEY (patient_id)
        REFERENCES patients (id) ON DELETE SET NULL
)
"""
# The filter indexes end in segment_id: a filtered search walks them newest first.
PG_SEARCH_INDEXES = {
    'ix_transcript_search_vector': 'USING gin (search_vector)',
    'ix_transcript_search_campaign': '(campaign_id, segment_id)',
    'ix_transcript_search_agent': '(agent_id, segment_id)',
    'ix_transcript_search_patient': '(patient_id, segment_id)',
    'ix_transcript_search_started': '(started_at, segment_id)',
}


def upgrade():
    with op.batch_alter_table('transcript_segments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_text', sa.Text(), nullable=True))
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.create_index('ix_recordings_status', ['status'], unique=False)

    if op.get_bind().dialect.name == 'postgresql':
        op.execute(PG_SEARCH_TABLE)
        for name, columns in PG_SEARCH_INDEXES.items():
            op.execute(f'CREATE INDEX {name} ON transcript_search {columns}')
    else:
        op.execute(SQLITE_FTS)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TABLE IF EXISTS transcript_search')
    else:
        op.execute('DROP TABLE IF EXISTS transcript_fts')

    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_index('ix_recordings_status')
    with op.batch_alter_table('transcript_segments', schema=None) as batch_op:
        batch_op.drop_column('search_text')
