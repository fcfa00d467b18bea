"""PostgreSQL: index params and tags by (key, left(value, 200), run_id).

Migration 0002 could index them by (key, run_id) only on PostgreSQL, whose B-tree entries are
limited to about 2.7 kB while a value may be 8,000 characters long; an equality filter such as
``params.p = 'x'`` then read every row of the key. The first 200 characters always fit (with a
250-character key: at most about 1.9 kB) and decide equality by themselves for any value
shorter than that; search compares ``left(value, 200)`` (and the whole value when longer).
SQLite is unchanged: its (key, value, run_id) indexes already serve these lookups.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("params", "tags")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.create_index(
            f"ix_{table}_key_prefix", table, ["key", sa.text("left(value, 200)"), "run_id"]
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.drop_index(f"ix_{table}_key_prefix", table)
