"""Packed metric history: one row per logging call, one row per key and fold.

Before: ``metric_log`` and ``metrics`` held one row per point. After: ``metric_log`` holds one
row per logging call and ``metric_blocks`` one row per (run, key, fold), their points packed
by ``runstack.store.sql.packing``. Existing points move into blocks of at most
``BLOCK_POINTS`` points per key, keeping their ``seq``; the new log's sequence continues
after the highest old ``seq``, so new points stay after old ones. ``latest_metrics`` is
unchanged (it was already up to date).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

from runstack.store.sql.packing import pack_block, unpack_batch, unpack_block
from runstack.store.sql.rows import decode_value, encode_value

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BLOCK_POINTS = 20_000
INSERT_ROWS = 500


def _run_id() -> sa.Column[Any]:
    return sa.Column(
        "run_id", sa.String(32), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False
    )


def _point_columns() -> list[sa.Column[Any]]:
    return [
        _run_id(),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Float(53), nullable=True),
        sa.Column("value_kind", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
    ]


def _log_seq() -> sa.Column[Any]:
    return sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    )


def _continue_sequence(table: str, after: int) -> None:
    """Make ``table``'s next ``seq`` larger than ``after``."""
    if after <= 0:
        return
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'seq'), {after})"))
    else:
        op.execute(sa.text(f"DELETE FROM sqlite_sequence WHERE name = '{table}'"))
        op.execute(sa.text(f"INSERT INTO sqlite_sequence (name, seq) VALUES ('{table}', {after})"))


def _insert_in_slices(table: sa.Table, rows: Iterator[dict[str, Any]]) -> None:
    connection = op.get_bind()
    pending: list[dict[str, Any]] = []
    for row in rows:
        pending.append(row)
        if len(pending) >= INSERT_ROWS:
            connection.execute(sa.insert(table), pending)
            pending = []
    if pending:
        connection.execute(sa.insert(table), pending)


def upgrade() -> None:
    connection = op.get_bind()
    op.drop_index("ix_metric_log_run_seq", "metric_log")
    op.rename_table("metric_log", "metric_log_rows")
    metrics = sa.Table("metrics", sa.MetaData(), autoload_with=connection)
    old_log = sa.Table("metric_log_rows", sa.MetaData(), autoload_with=connection)
    top = connection.execute(
        sa.select(sa.func.max(old_log.c.seq)).union_all(sa.select(sa.func.max(metrics.c.seq)))
    ).scalars()
    highest = max((value for value in top if value is not None), default=0)
    # Points still in the old log join the compacted ones (as a compaction did).
    columns = ["seq", "run_id", "key", "value", "value_kind", "timestamp", "step"]
    connection.execute(
        sa.insert(metrics).from_select(columns, sa.select(*(old_log.c[c] for c in columns)))
    )
    op.drop_table("metric_log_rows")

    blocks = op.create_table(
        "metric_blocks",
        sa.Column(
            "run_id",
            sa.String(32),
            sa.ForeignKey("runs.run_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("first_seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("n_points", sa.Integer, nullable=False),
        sa.Column("points", sa.LargeBinary, nullable=False),
    )
    run_ids = connection.execute(sa.select(metrics.c.run_id).distinct()).scalars().all()
    for run_id in run_ids:  # one run at a time: memory stays bounded by the largest run
        ordered = connection.execute(
            sa.select(*(metrics.c[c] for c in columns))
            .where(metrics.c.run_id == run_id)
            .order_by(metrics.c.key, metrics.c.seq)
        ).all()
        _insert_in_slices(blocks, _blocks_of(ordered))
    op.drop_table("metrics")

    op.create_table(
        "metric_log",
        _log_seq(),
        _run_id(),
        sa.Column("n_points", sa.Integer, nullable=False),
        sa.Column("points", sa.LargeBinary, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_metric_log_run_seq", "metric_log", ["run_id", "seq"])
    _continue_sequence("metric_log", highest)


def _blocks_of(rows: Any) -> Iterator[dict[str, Any]]:
    """Consecutive rows of one (run, key), in seq order, as blocks of BLOCK_POINTS at most."""
    current: tuple[str, str] | None = None
    points: list[tuple[int, float, int, int]] = []

    def block() -> dict[str, Any]:
        assert current is not None
        seqs, values, timestamps, steps = zip(*points, strict=True)
        return {
            "run_id": current[0],
            "key": current[1],
            "first_seq": seqs[0],
            "n_points": len(points),
            "points": pack_block(seqs, values, timestamps, steps),
        }

    for row in rows:
        key = (row.run_id, row.key)
        if key != current or len(points) >= BLOCK_POINTS:
            if points:
                yield block()
            current, points = key, []
        points.append((row.seq, decode_value(row.value, row.value_kind), row.timestamp, row.step))
    if points:
        yield block()


def downgrade() -> None:
    connection = op.get_bind()
    metrics = op.create_table(
        "metrics",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        *_point_columns(),
    )
    op.create_index("ix_metrics_run_key_seq", "metrics", ["run_id", "key", "seq"])
    blocks = sa.Table("metric_blocks", sa.MetaData(), autoload_with=connection)
    log = sa.Table("metric_log", sa.MetaData(), autoload_with=connection)
    highest = connection.execute(sa.select(sa.func.max(log.c.seq))).scalar() or 0
    next_seq = highest

    def rows() -> Iterator[dict[str, Any]]:
        nonlocal next_seq
        for block_row in connection.execute(sa.select(blocks)).all():
            block = unpack_block(block_row.points)
            for seq, value, timestamp, step in zip(
                block.seqs, block.values, block.timestamps, block.steps, strict=True
            ):
                next_seq = max(next_seq, seq)
                yield _point_row(seq, block_row.run_id, block_row.key, value, timestamp, step)
        # Old rows were numbered per point: a log row's points take fresh numbers after all.
        for log_row in connection.execute(sa.select(log).order_by(log.c.seq)).all():
            batch = unpack_batch(log_row.points)
            for key, value, timestamp, step in zip(
                batch.keys, batch.values, batch.timestamps, batch.steps, strict=True
            ):
                next_seq += 1
                yield _point_row(next_seq, log_row.run_id, key, value, timestamp, step)

    _insert_in_slices(metrics, rows())
    op.drop_table("metric_blocks")
    op.drop_index("ix_metric_log_run_seq", "metric_log")
    op.drop_table("metric_log")
    op.create_table("metric_log", _log_seq(), *_point_columns(), sqlite_autoincrement=True)
    op.create_index("ix_metric_log_run_seq", "metric_log", ["run_id", "seq"])
    _continue_sequence("metric_log", next_seq)


def _point_row(
    seq: int, run_id: str, key: str, value: float, timestamp: int, step: int
) -> dict[str, Any]:
    stored, kind = encode_value(value)
    return {
        "seq": seq,
        "run_id": run_id,
        "key": key,
        "value": stored,
        "value_kind": kind,
        "timestamp": timestamp,
        "step": step,
    }
