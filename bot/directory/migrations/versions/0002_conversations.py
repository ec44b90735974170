"""conversations in the daily counts

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 09:00:00.000000

A count, like `count`, in the same anonymous daily rows: how many of the texts answered started a
conversation. Existing rows keep their counts and get 0 conversations (none were counted then).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("daily_count", sa.Column("conversations", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("daily_count") as batch:
        batch.drop_column("conversations")
