"""Reducing a metric's points, in step order, to at most ``max_points`` for a chart.

The steps from the first to the last point are cut into ``max_points // 4`` buckets of
equal width; each bucket keeps its first and last point (in step order; equal steps in
logging order) and its lowest and highest value (NaN is never a lowest or highest value),
each point once. So the reduction keeps the series' first and last points and its global
minimum and maximum, and a single-step spike survives at any zoom level.

Two inputs, one rule:

- ``reduce_points``: every point, sorted by step (a short history, or a zoomed-in range);
  each bucket is a slice, searched with C-level ``min``/``max``.
- ``reduce_summaries``: ``Summary`` items that stand for runs of consecutive points (the
  per-chunk summaries kept beside the packed history, ``store/sql/block_summary.py``), so a
  history of a million points is reduced from a few thousand summaries without reading its
  points. A summary falls wholly into the bucket of its first step; a single point is a
  summary of one.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# first, last, min and max of one bucket: fewer points per series cannot keep all four.
MIN_MAX_POINTS = 4

Point = tuple[int, int, float]  # (step, timestamp, value)


@dataclass(frozen=True)
class Points:
    """Parallel columns in step order."""

    steps: Sequence[int]
    timestamps: Sequence[int]
    values: Sequence[float]

    def __len__(self) -> int:
        return len(self.steps)


@dataclass(frozen=True)
class Summary:
    """A run of ``count`` consecutive points (in step order) by its first, last, lowest and
    highest point; for a single point all four are that point."""

    count: int
    first: Point
    last: Point
    low: Point
    high: Point


def bucket_width(first_step: int, last_step: int, max_points: int) -> int:
    """Steps per bucket so that [first_step, last_step] fits in ``max_points // 4`` buckets."""
    buckets = max(1, max_points // MIN_MAX_POINTS)
    return (last_step - first_step) // buckets + 1


def reduce_points(points: Points, max_points: int) -> Points:
    """Every point of ``points`` (sorted by step) when there are at most ``max_points``;
    else each bucket's first, last, lowest and highest point, in step order."""
    count = len(points)
    if count <= max_points:
        return points
    steps, values = points.steps, points.values
    first_step = steps[0]
    width = bucket_width(first_step, steps[-1], max_points)
    keep: list[int] = []
    start = 0
    while start < count:
        bucket = (steps[start] - first_step) // width
        end = bisect_left(steps, first_step + (bucket + 1) * width, start)
        chosen = {start, end - 1}
        found = extreme_positions(values[start:end])
        if found is not None:
            chosen.update((start + found[0], start + found[1]))
        keep.extend(sorted(chosen))
        start = end
    return Points(
        [steps[i] for i in keep],
        [points.timestamps[i] for i in keep],
        [values[i] for i in keep],
    )


def extreme_positions(window: Sequence[float]) -> tuple[int, int] | None:
    """Positions of the lowest and highest non-NaN value (first of equals), or None."""
    # NaN makes min/max depend on order; a sum is NaN when any value is (or +inf meets -inf:
    # then the careful path below runs, which is right too).
    if not math.isnan(sum(window)):
        low, high = min(window), max(window)
        return window.index(low), window.index(high)
    finite = [(v, i) for i, v in enumerate(window) if v == v]
    if not finite:
        return None
    return min(finite)[1], max(finite, key=lambda item: (item[0], -item[1]))[1]


def reduce_summaries(summaries: Iterable[Summary], max_points: int) -> tuple[Points, int]:
    """Bucket ``summaries`` (in any order) by their first step and keep each bucket's first,
    last, lowest and highest point; returns the points in step order and the total count."""
    items = sorted(summaries, key=lambda s: s.first[0])
    total = sum(s.count for s in items)
    if not items:
        return Points([], [], []), 0
    first_step = items[0].first[0]
    last_step = max(s.last[0] for s in items)
    width = bucket_width(first_step, last_step, max_points)
    kept: list[tuple[int, int, Point]] = []  # (step, arrival, point): a stable step order
    bucket_of: int | None = None
    first = last = low = high = None
    arrival = 0

    def flush() -> None:
        nonlocal arrival
        chosen: list[Point] = []
        for point in (first, low, high, last):
            if point is not None and point not in chosen:
                chosen.append(point)
        for point in chosen:
            kept.append((point[0], arrival, point))
            arrival += 1

    for summary in items:
        bucket = (summary.first[0] - first_step) // width
        if bucket != bucket_of:
            if bucket_of is not None:
                flush()
            bucket_of, first, last, low, high = bucket, summary.first, summary.last, None, None
        elif summary.last[0] >= last[0]:  # type: ignore[index]
            last = summary.last
        for candidate in (summary.low, summary.high):
            value = candidate[2]
            if value != value:
                continue
            if low is None or value < low[2]:
                low = candidate
            if high is None or value > high[2]:
                high = candidate
    flush()
    kept.sort(key=lambda item: (item[0], item[1]))
    return (
        Points(
            [p[2][0] for p in kept],
            [p[2][1] for p in kept],
            [p[2][2] for p in kept],
        ),
        total,
    )
