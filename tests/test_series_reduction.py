"""Metric series reduction (runstack.series and the block summaries it reads): whatever the
points, a reduced series keeps the global minimum and maximum and the first and last points,
never exceeds max_points, and is in step order; short series come back whole."""

from __future__ import annotations

import math
from array import array

from hypothesis import given, settings
from hypothesis import strategies as st

from runstack.series import MIN_MAX_POINTS, Points, Summary, reduce_points, reduce_summaries
from runstack.store.sql.block_summary import CHUNK_POINTS, chunk_summaries, summarize

values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=True, width=64),
    st.just(math.nan),
)
point_lists = st.lists(
    st.tuples(st.integers(-(10**6), 10**6), st.integers(0, 10**12), values),
    min_size=1,
    max_size=600,
)
max_points = st.integers(MIN_MAX_POINTS, 200)


def _sorted(points: list[tuple[int, int, float]]) -> Points:
    ordered = sorted(points, key=lambda p: p[0])  # stable: equal steps keep their order
    return Points([p[0] for p in ordered], [p[1] for p in ordered], [p[2] for p in ordered])


def _finite_extremes(values: list[float]) -> tuple[float, float] | None:
    real = [v for v in values if not math.isnan(v)]
    return (min(real), max(real)) if real else None


def _check(original: Points, reduced: Points, limit: int) -> None:
    assert len(reduced) <= limit
    assert list(reduced.steps) == sorted(reduced.steps)
    triples = list(zip(reduced.steps, reduced.timestamps, reduced.values, strict=True))
    assert triples[0][:2] == (original.steps[0], original.timestamps[0])
    assert triples[-1][:2] == (original.steps[-1], original.timestamps[-1])
    expected = _finite_extremes(list(original.values))
    got = _finite_extremes(list(reduced.values))
    assert got == expected
    # every kept point is a real point of the series
    real = set(zip(original.steps, original.timestamps, map(repr, original.values), strict=True))
    assert all((s, t, repr(v)) in real for s, t, v in triples)


@settings(max_examples=300, deadline=None)
@given(point_lists, max_points)
def test_reduce_points_keeps_extremes_and_ends(
    points: list[tuple[int, int, float]], limit: int
) -> None:
    original = _sorted(points)
    reduced = reduce_points(original, limit)
    if len(original) <= limit:
        assert reduced is original
        return
    _check(original, reduced, limit)


@settings(max_examples=200, deadline=None)
@given(point_lists, max_points, st.integers(1, 5))
def test_reducing_block_summaries_keeps_extremes_and_ends(
    points: list[tuple[int, int, float]], limit: int, blocks: int
) -> None:
    """Points split into blocks (in logging order), each summarised as the store does at a
    fold, then reduced from the chunk summaries alone."""
    size = max(1, len(points) // blocks)
    summaries: list[Summary] = []
    for start in range(0, len(points), size):
        part = points[start : start + size]
        summary = summarize(
            array("d", (p[2] for p in part)), [p[1] for p in part], [p[0] for p in part]
        )
        assert summary.n_points == len(part)
        assert (summary.min_step, summary.max_step) == (
            min(p[0] for p in part),
            max(p[0] for p in part),
        )
        expected = _finite_extremes([p[2] for p in part])
        assert (summary.min_value, summary.max_value) == (expected or (None, None))
        chunks = list(chunk_summaries(summary.chunks))
        assert sum(c.count for c in chunks) == len(part)
        assert all(c.count <= CHUNK_POINTS for c in chunks)
        summaries += chunks
    reduced, total = reduce_summaries(summaries, limit)
    assert total == len(points)
    original = _sorted(points)
    assert len(reduced) <= limit
    assert list(reduced.steps) == sorted(reduced.steps)
    assert reduced.steps[0] == original.steps[0] and reduced.steps[-1] == original.steps[-1]
    assert _finite_extremes(list(reduced.values)) == _finite_extremes(list(original.values))


def test_a_one_step_spike_survives_reduction() -> None:
    steps = list(range(100_000))
    spike = 61_234
    values = [1.0 if i != spike else 1e9 for i in steps]
    reduced = reduce_points(Points(steps, steps, values), 100)
    assert spike in reduced.steps and len(reduced) <= 100


def test_buckets_hold_first_last_min_and_max_in_step_order() -> None:
    # 12 points, max_points 8: 2 buckets of 6 steps, each keeps first, lowest, highest, last.
    values = [5.0, 1.0, 9.0, 4.0, 3.0, 2.0, 7.0, 8.0, 0.5, 6.0, 6.5, 7.5]
    reduced = reduce_points(Points(list(range(12)), list(range(12)), values), 8)
    assert list(reduced.steps) == [0, 1, 2, 5, 6, 7, 8, 11]
    assert list(reduced.values) == [5.0, 1.0, 9.0, 2.0, 7.0, 8.0, 0.5, 7.5]


def test_summary_of_all_nan_chunk_has_no_extremes() -> None:
    summary = summarize([math.nan] * 3, [1, 2, 3], [0, 1, 2])
    assert summary.min_value is None and summary.max_value is None
    (chunk,) = chunk_summaries(summary.chunks)
    assert chunk.count == 3 and chunk.first[0] == 0 and chunk.last[0] == 2
