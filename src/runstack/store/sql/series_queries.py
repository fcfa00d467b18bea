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
from runstack.store.sql.database import Tx
from runstack.store.sql.packing import unpack_batch, unpack_block
from runstack.store.ui_types import MetricSeries

RAW_FACTOR = 32
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

_s = t.metric_summaries.c
_b = t.metric_blocks.c
_l = t.metric_log.c
# At most this many (run, first_seq) pairs per block-reading statement (SQLite's variables).
_PAIRS_PER_STATEMENT = 400


def _summaries(tx: Tx, run_ids: list[str], key: str, low: int, high: int) -> list[Any]:
    query = (
        sa.select(_s.run_id, _s.first_seq, _s.n_points, _s.min_step, _s.max_step, _s.chunks)
        .where(_s.run_id.in_(run_ids), _s.key == key, _s.max_step >= low, _s.min_step <= high)
        .order_by(_s.run_id, _s.first_seq)
    )
    return tx.all(query)


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


def _blocks(tx: Tx, key: str, wanted: list[tuple[str, int]]) -> dict[str, _Columns]:
    """The points of these (run, first_seq) blocks of ``key``, per run, in logging order."""
    found: dict[str, _Columns] = {}
    rows: list[Any] = []
    for start in range(0, len(wanted), _PAIRS_PER_STATEMENT):
        part = wanted[start : start + _PAIRS_PER_STATEMENT]
        rows += tx.all(
            sa.select(_b.run_id, _b.first_seq, _b.points).where(
                _b.key == key, sa.tuple_(_b.run_id, _b.first_seq).in_(part)
            )
        )
    for row in sorted(rows, key=lambda r: (r.run_id, r.first_seq)):
        block = unpack_block(row.points)
        found.setdefault(row.run_id, _Columns()).extend(block.steps, block.timestamps, block.values)
    return found


def _logged(tx: Tx, run_ids: list[str], key: str) -> dict[str, _Columns]:
    """Points of ``key`` in the runs' log rows not folded yet, per run, in logging order."""
    found: dict[str, _Columns] = {}
    query = sa.select(_l.run_id, _l.points).where(_l.run_id.in_(run_ids)).order_by(_l.seq)
    for row in tx.all(query):
        batch = unpack_batch(row.points)
        if key not in batch.keys:
            continue
        into = found.setdefault(row.run_id, _Columns())
        for name, value, timestamp, step in zip(
            batch.keys, batch.values, batch.timestamps, batch.steps, strict=True
        ):
            if name == key:
                into.steps.append(step)
                into.timestamps.append(timestamp)
                into.values.append(value)
    return found


def _overlapping(chunks_data: bytes, low: int, high: int) -> int:
    """How many points the chunks that overlap [low, high] hold (at least those in it)."""
    return sum(
        chunk.count
        for chunk in chunk_summaries(chunks_data)
        if chunk.first[0] <= high and chunk.last[0] >= low
    )


def metric_series(
    tx: Tx,
    run_ids: list[str],
    key: str,
    max_points: int,
    min_step: int | None = None,
    max_step: int | None = None,
) -> list[MetricSeries]:
    """Each run's points of ``key`` with min_step <= step <= max_step, reduced to at most
    ``max_points`` (which must be at least ``runstack.series.MIN_MAX_POINTS``), in the
    order of ``run_ids``. One statement per table for all the runs (plus one per 400 blocks
    read point by point)."""
    low = _INT64_MIN if min_step is None else min_step
    high = _INT64_MAX if max_step is None else max_step
    summaries: dict[str, list[Any]] = {run_id: [] for run_id in run_ids}
    for row in _summaries(tx, run_ids, key, low, high):
        summaries[row.run_id].append(row)
    logged = _logged(tx, run_ids, key)
    raw_runs: set[str] = set()
    wanted: list[tuple[str, int]] = []  # blocks to read point by point
    for run_id in run_ids:
        rows = summaries[run_id]
        pending = logged.get(run_id)
        estimate = (0 if pending is None else len(pending.steps)) + sum(
            row.n_points if _inside(row, low, high) else _overlapping(row.chunks, low, high)
            for row in rows
        )
        if estimate <= RAW_FACTOR * max_points:
            raw_runs.add(run_id)
            wanted += [(run_id, row.first_seq) for row in rows]
        else:
            wanted += [(run_id, row.first_seq) for row in rows if not _inside(row, low, high)]
    points = _blocks(tx, key, wanted)
    result = []
    for run_id in run_ids:
        raw = points.get(run_id, _Columns())
        pending = logged.get(run_id)
        if pending is not None:
            raw.extend(pending.steps, pending.timestamps, pending.values)
        in_range = raw.in_step_order(low, high)
        if run_id in raw_runs:
            result.append(_series(run_id, len(in_range), reduce_points(in_range, max_points)))
            continue
        units = [
            unit
            for row in summaries[run_id]
            if _inside(row, low, high)
            for unit in chunk_summaries(row.chunks)
        ]
        for point in zip(in_range.steps, in_range.timestamps, in_range.values, strict=True):
            units.append(Summary(1, point, point, point, point))
        reduced, total = reduce_summaries(units, max_points)
        result.append(_series(run_id, total, reduced))
    return result


def _inside(row: Any, low: int, high: int) -> bool:
    """Whether a block lies wholly inside [low, high]."""
    return bool(low <= row.min_step and row.max_step <= high)


def _series(run_id: str, total: int, points: Points) -> MetricSeries:
    return MetricSeries(
        run_id=run_id,
        total_points=total,
        reduced=len(points) < total,
        steps=list(points.steps),
        timestamps=list(points.timestamps),
        values=list(points.values),
    )
