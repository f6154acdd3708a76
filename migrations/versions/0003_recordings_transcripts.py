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


def upgrade():
    pass


def downgrade():
    pass
