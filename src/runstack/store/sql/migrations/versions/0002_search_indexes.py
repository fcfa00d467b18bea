"""Indexes for search: filter and order by latest metric values, params and tags.

On SQLite, params and tags are indexed by (key, value, run_id) so equality and range
filters on a value drive through the index. PostgreSQL limits a B-tree entry to about 2.7 kB
and values may be 8,000 characters long, so there they are indexed by (key, run_id) only.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_latest_metrics_key_value", "latest_metrics", ["key", "value", "run_id"])
    if op.get_bind().dialect.name == "sqlite":
        op.create_index("ix_params_key_value", "params", ["key", "value", "run_id"])
        op.create_index("ix_tags_key_value", "tags", ["key", "value", "run_id"])
    else:
        op.create_index("ix_params_key_run", "params", ["key", "run_id"])
        op.create_index("ix_tags_key_run", "tags", ["key", "run_id"])


def downgrade() -> None:
    op.drop_index("ix_latest_metrics_key_value", "latest_metrics")
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_params_key_value", "params")
        op.drop_index("ix_tags_key_value", "tags")
    else:
        op.drop_index("ix_params_key_run", "params")
        op.drop_index("ix_tags_key_run", "tags")
