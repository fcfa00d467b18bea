"""Summaries of packed metric blocks, so that a chart of a long history need not read it.

Every block of one key's points (``metric_blocks``, see ``packing.py``) gets one row in
``metric_summaries`` with the same (run, key, first_seq): its point count, step range and
lowest and highest value (SQL columns, so a run's per-key min/max/count is one aggregate),
and ``chunks``: the block's points sorted by step, cut into chunks of ``CHUNK_POINTS``, each
packed as its count and its first, last, lowest and highest point. A series reduction
(``runstack.series``) reads these instead of the points: about 0.8 byte per point.

The summaries live in their own table rather than in extra ``metric_blocks`` columns: SQLite
keeps a row's columns in order, and reading a column stored after a large blob walks the
blob's overflow pages.
"""

from __future__ import annotations

import operator
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from runstack.series.reduction import Summary, extreme_positions

CHUNK_POINTS = 128
# count, then (step, timestamp, value) for the first, last, lowest and highest point.
_CHUNK = struct.Struct("<q" + "qqd" * 4)


@dataclass(frozen=True)
class BlockSummary:
    n_points: int
    min_step: int
    max_step: int
    min_value: float | None  # None: every value is NaN
    max_value: float | None
    chunks: bytes


def _step_order(steps: Sequence[int]) -> list[int] | None:
    """Positions in step order (stable), or None when the steps already ascend."""
    if all(map(operator.le, steps, steps[1:])):
        return None
    return sorted(range(len(steps)), key=steps.__getitem__)


def summarize(
    values: Sequence[float], timestamps: Sequence[int], steps: Sequence[int]
) -> BlockSummary:
    """The summary of one block's points (given in logging order)."""
    order = _step_order(steps)
    if order is not None:
        values = [values[i] for i in order]
        timestamps = [timestamps[i] for i in order]
        steps = [steps[i] for i in order]
    count = len(steps)
    parts: list[bytes] = []
    low_all: float | None = None
    high_all: float | None = None
    for start in range(0, count, CHUNK_POINTS):
        end = min(start + CHUNK_POINTS, count)
        window = values[start:end]
        found = extreme_positions(window)
        if found is None:
            i_low = i_high = start
        else:
            i_low, i_high = start + found[0], start + found[1]
            low, high = values[i_low], values[i_high]
            low_all = low if low_all is None else min(low_all, low)
            high_all = high if high_all is None else max(high_all, high)
        last = end - 1
        parts.append(
            _CHUNK.pack(
                end - start,
                *(
                    number
                    for i in (start, last, i_low, i_high)
                    for number in (steps[i], timestamps[i], values[i])
                ),
            )
        )
    return BlockSummary(count, steps[0], steps[-1], low_all, high_all, b"".join(parts))


def chunk_summaries(data: bytes) -> Iterator[Summary]:
    """The chunks of a summary, as ``runstack.series.Summary`` items in step order."""
    for item in _CHUNK.iter_unpack(data):
        yield Summary(
            item[0],
            (item[1], item[2], item[3]),
            (item[4], item[5], item[6]),
            (item[7], item[8], item[9]),
            (item[10], item[11], item[12]),
        )


def summary_row(
    run_id: str,
    key: str,
    first_seq: int,
    values: Sequence[float],
    timestamps: Sequence[int],
    steps: Sequence[int],
) -> dict[str, Any]:
    """The ``metric_summaries`` row of the block (run_id, key, first_seq) with these points."""
    summary = summarize(values, timestamps, steps)
    return {
        "run_id": run_id,
        "key": key,
        "first_seq": first_seq,
        "n_points": summary.n_points,
        "min_step": summary.min_step,
        "max_step": summary.max_step,
        "min_value": summary.min_value,
        "max_value": summary.max_value,
        "chunks": summary.chunks,
    }
