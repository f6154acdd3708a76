"""IVR prompts, flows and outcomes (issue 6)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 20:30:00

"""
from alembic import op
import sqlalchemy as sa

import callcenter.models.base  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
