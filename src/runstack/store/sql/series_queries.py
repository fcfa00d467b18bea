"""One run's points of one metric key in a step range, reduced for a chart
(``runstack.series``), reading the block summaries instead of the points when the range
holds many.

A range with at most ``RAW_FACTOR * max_points`` points (counted from the summaries of the
chunks that overlap it) is read point by point (the blocks that overlap it, plus the log rows
not folded yet) and reduced exactly. A longer one is
reduced from the chunk summaries of the blocks that lie wholly inside it; only the blocks
that straddle an end of the range, and the unfolded log, are read point by point. A
1,000,000-point history is then about 8,000 chunk summaries (800 KB) instead of 32 MB of
points.
"""

from __future__ import annotations

import operator
from array import array
from bisect import bisect_left, bisect_right
from typing import Any

import sqlalchemy as sa

from runstack.series import Points, Summary, reduce_points, reduce_summaries
from runstack.store.sql import schema as t
from runstack.store.sql.block_summary import chunk_summaries
from runstack.store.sql.database import Prepared, Tx
from runstack.store.sql.packing import unpack_batch, unpack_block
from runstack.store.sql.rows import LOGGED_OF_RUN
from runstack.store.ui_types import MetricSeries

RAW_FACTOR = 32
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

_s = t.metric_summaries.c
_SUMMARIES = Prepared(
    sa.select(_s.first_seq, _s.n_points, _s.min_step, _s.max_step, _s.chunks)
    .where(
        _s.run_id == sa.bindparam("run_id"),
        _s.key == sa.bindparam("key"),
        _s.max_step >= sa.bindparam("low"),
        _s.min_step <= sa.bindparam("high"),
    )
    .order_by(_s.first_seq)
)
_b = t.metric_blocks.c
_BLOCKS_BETWEEN = Prepared(
    sa.select(_b.first_seq, _b.points)
    .where(
        _b.run_id == sa.bindparam("run_id"),
        _b.key == sa.bindparam("key"),
        _b.first_seq.between(sa.bindparam("low"), sa.bindparam("high")),
    )
    .order_by(_b.first_seq)
)


class _Columns:
    """Points gathered in logging order: parallel arrays."""

    def __init__(self) -> None:
        self.steps: array[int] = array("q")
        self.timestamps: array[int] = array("q")
        self.values: array[float] = array("d")

    def extend(self, steps: Any, timestamps: Any, values: Any) -> None:
        self.steps.extend(steps)
        self.timestamps.extend(timestamps)
        self.values.extend(values)

    def in_step_order(self, low: int, high: int) -> Points:
        """Sorted by step (stable: equal steps keep logging order), cut to [low, high]. As
        lists: their items are Python objects already, so the reduction's min, max and index
        do not box every number again."""
        steps, timestamps, values = (
            self.steps.tolist(),
            self.timestamps.tolist(),
            self.values.tolist(),
        )
        if not all(map(operator.le, steps, steps[1:])):
            order = sorted(range(len(steps)), key=steps.__getitem__)
            steps = [steps[i] for i in order]
            timestamps = [timestamps[i] for i in order]
            values = [values[i] for i in order]
        start, end = bisect_left(steps, low), bisect_right(steps, high)
        if start > 0 or end < len(steps):
            steps, timestamps, values = steps[start:end], timestamps[start:end], values[start:end]
        return Points(steps, timestamps, values)


def _blocks(tx: Tx, run_id: str, key: str, first_seqs: list[int], into: _Columns) -> None:
    """Append the points of these blocks of the key, in logging order."""
    if not first_seqs:
        return
    wanted = set(first_seqs)
    span = {"run_id": run_id, "key": key, "low": min(wanted), "high": max(wanted)}
    for row in tx.all(_BLOCKS_BETWEEN, span):
        if row.first_seq not in wanted:
            continue
        block = unpack_block(row.points)
        into.extend(block.steps, block.timestamps, block.values)


def _logged(tx: Tx, run_id: str, key: str, into: _Columns) -> None:
    for row in tx.all(LOGGED_OF_RUN, {"run_id": run_id}):
        batch = unpack_batch(row.points)
        if key not in batch.keys:
            continue
        for name, value, timestamp, step in zip(
            batch.keys, batch.values, batch.timestamps, batch.steps, strict=True
        ):
            if name == key:
                into.steps.append(step)
                into.timestamps.append(timestamp)
                into.values.append(value)


def _overlapping(chunks_data: bytes, low: int, high: int) -> int:
    """How many points the chunks that overlap [low, high] hold (at least those in it)."""
    return sum(
        chunk.count
        for chunk in chunk_summaries(chunks_data)
        if chunk.first[0] <= high and chunk.last[0] >= low
    )


def metric_series(
    tx: Tx,
    run_id: str,
    key: str,
    max_points: int,
    min_step: int | None = None,
    max_step: int | None = None,
) -> MetricSeries:
    """The run's points of ``key`` with min_step <= step <= max_step, reduced to at most
    ``max_points`` (which must be at least ``runstack.series.MIN_MAX_POINTS``)."""
    low = _INT64_MIN if min_step is None else min_step
    high = _INT64_MAX if max_step is None else max_step
    bounds = {"run_id": run_id, "key": key, "low": low, "high": high}
    rows = tx.all(_SUMMARIES, bounds)
    logged = _Columns()
    _logged(tx, run_id, key, logged)
    inside = [low <= row.min_step and row.max_step <= high for row in rows]
    estimate = len(logged.steps) + sum(
        row.n_points if whole else _overlapping(row.chunks, low, high)
        for row, whole in zip(rows, inside, strict=True)
    )
    if estimate <= RAW_FACTOR * max_points:
        points = _Columns()
        _blocks(tx, run_id, key, [row.first_seq for row in rows], points)
        points.extend(logged.steps, logged.timestamps, logged.values)
        everything = points.in_step_order(low, high)
        reduced = reduce_points(everything, max_points)
        return _series(run_id, len(everything), reduced)
    units: list[Summary] = []
    straddling: list[int] = []
    for row, whole in zip(rows, inside, strict=True):
        if whole:
            units.extend(chunk_summaries(row.chunks))
        else:
            straddling.append(row.first_seq)
    raw = _Columns()
    _blocks(tx, run_id, key, straddling, raw)
    raw.extend(logged.steps, logged.timestamps, logged.values)
    single = raw.in_step_order(low, high)
    for point in zip(single.steps, single.timestamps, single.values, strict=True):
        units.append(Summary(1, point, point, point, point))
    reduced, total = reduce_summaries(units, max_points)
    return _series(run_id, total, reduced)


def _series(run_id: str, total: int, points: Points) -> MetricSeries:
    return MetricSeries(
        run_id=run_id,
        total_points=total,
        reduced=len(points) < total,
        steps=list(points.steps),
        timestamps=list(points.timestamps),
        values=list(points.values),
    )
