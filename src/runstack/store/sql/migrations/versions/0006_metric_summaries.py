"""Web UI reads. Metric block summaries: one ``metric_summaries`` row per ``metric_blocks``
row, with the block's count, step range, lowest and highest value and per-chunk summaries,
so that charts of long histories and a run's per-key min/max/count do not read every point.
And ``ix_runs_experiment_activity`` (experiment, lifecycle stage, status, end time), so that
run counts per status are read from an index.

The upgrade summarises every existing block (in slices, so memory stays flat); the
downgrade drops the table and the index, which nothing else refers to.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from runstack.store.sql.block_summary import summary_row
from runstack.store.sql.packing import unpack_block

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_SLICE = 200  # blocks read and summarised per statement


def upgrade() -> None:
    summaries = op.create_table(
        "metric_summaries",
        sa.Column(
            "run_id",
            sa.String(32),
            sa.ForeignKey("runs.run_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("first_seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("n_points", sa.Integer, nullable=False),
        sa.Column("min_step", sa.BigInteger, nullable=False),
        sa.Column("max_step", sa.BigInteger, nullable=False),
        sa.Column("min_value", sa.Float(53), nullable=True),
        sa.Column("max_value", sa.Float(53), nullable=True),
        sa.Column("chunks", sa.LargeBinary, nullable=False),
    )
    op.create_index(
        "ix_runs_experiment_activity",
        "runs",
        ["experiment_id", "lifecycle_stage", "status", "end_time"],
    )
    connection = op.get_bind()
    blocks = sa.Table("metric_blocks", sa.MetaData(), autoload_with=connection)
    c = blocks.c
    after: tuple[Any, ...] | None = None
    while True:
        query = sa.select(c.run_id, c.key, c.first_seq, c.points).order_by(
            c.run_id, c.key, c.first_seq
        )
        if after is not None:
            query = query.where(sa.tuple_(c.run_id, c.key, c.first_seq) > sa.tuple_(*after))
        rows = connection.execute(query.limit(_SLICE)).all()
        if not rows:
            return
        connection.execute(sa.insert(summaries), [_summary_row(row) for row in rows])
        last = rows[-1]
        after = (last.run_id, last.key, last.first_seq)


def _summary_row(row: Any) -> dict[str, Any]:
    block = unpack_block(row.points)
    return summary_row(
        row.run_id, row.key, row.first_seq, block.values, block.timestamps, block.steps
    )


def downgrade() -> None:
    op.drop_index("ix_runs_experiment_activity", "runs")
    op.drop_table("metric_summaries")
