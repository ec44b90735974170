"""the line in the daily counts

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08 09:00:00.000000

One more key in the same anonymous daily rows: the line's own number texted, when campaigns.yaml
lists it ("" for any other). Existing rows keep their counts under "" (no line was counted then).
The column joins the primary key: on PostgreSQL the key is dropped and made again; on SQLite the
table is copied into a new one with the new key (Alembic's batch mode), rows and all.

Going back down adds each day's counts of every line together into the row of "", then drops it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

KEY = ["day", "campaign", "topic", "language", "channel"]
PRIMARY_KEY = "daily_count_pkey"  # PostgreSQL's own name for the key 0001 made


def _keyless(*line: sa.Column) -> sa.Table:
    """daily_count as it is before the step, but with no primary key: on SQLite the batch copies the
    rows into a table made from this and the new key, so no column brings the old key along."""
    return sa.Table("daily_count", sa.MetaData(), sa.Column("day", sa.Date(), nullable=False),
                    *(sa.Column(name, sa.String(length=n), nullable=False)
                      for name, n in (("campaign", 40), ("topic", 40), ("language", 5), ("channel", 10))),
                    sa.Column("count", sa.Integer(), nullable=False),
                    sa.Column("conversations", sa.Integer(), server_default="0", nullable=False), *line)


def _drop_primary_key(batch) -> None:
    """On PostgreSQL, drop the key (SQLite's copy of the table is made without it)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        batch.drop_constraint(sa.inspect(bind).get_pk_constraint("daily_count")["name"] or PRIMARY_KEY,
                              type_="primary")


def upgrade() -> None:
    with op.batch_alter_table("daily_count", copy_from=_keyless()) as batch:
        batch.add_column(sa.Column("line", sa.String(length=20), server_default="", nullable=False))
        _drop_primary_key(batch)
        batch.create_primary_key(PRIMARY_KEY, [*KEY, "line"])


def downgrade() -> None:
    same = " AND ".join(f"o.{column} = d.{column}" for column in KEY)
    columns = ", ".join(KEY)
    op.execute(f"INSERT INTO daily_count ({columns}, line, count, conversations) "  # noqa: S608 - no value
               f"SELECT DISTINCT {columns}, '', 0, 0 FROM daily_count d WHERE d.line <> '' "
               f"AND NOT EXISTS (SELECT 1 FROM daily_count o WHERE o.line = '' AND {same})")
    same = " AND ".join(f"o.{column} = daily_count.{column}" for column in KEY)
    op.execute(f"UPDATE daily_count SET count = (SELECT SUM(o.count) FROM daily_count o WHERE {same}), "  # noqa: S608
               f"conversations = (SELECT SUM(o.conversations) FROM daily_count o WHERE {same}) WHERE line = ''")
    op.execute("DELETE FROM daily_count WHERE line <> ''")
    line = sa.Column("line", sa.String(length=20), server_default="", nullable=False)
    with op.batch_alter_table("daily_count", copy_from=_keyless(line)) as batch:
        _drop_primary_key(batch)
        batch.drop_column("line")
        batch.create_primary_key(PRIMARY_KEY, KEY)
