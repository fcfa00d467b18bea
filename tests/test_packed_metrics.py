"""Packed metric history: the binary layouts round-trip every value bit for bit, and points
still waiting in the log (not folded yet) are seen by every read: the run's latest values,
its history, and searches that filter or sort on metrics."""

from __future__ import annotations

import math
import struct
import threading

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

import runstack
from readback import count_rows
from runstack.entities import Metric
from runstack.store import get_store
from runstack.store.sql import packing

KEYS = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), min_size=1, max_size=20
)
INT64 = st.integers(-(2**63), 2**63 - 1)
DOUBLES = st.floats(allow_nan=True, allow_infinity=True)


def _bits(value: float) -> bytes:
    return struct.pack("<d", value)


@given(st.lists(st.tuples(KEYS, DOUBLES, INT64, INT64), max_size=50))
def test_batches_round_trip_bit_for_bit(points: list[tuple[str, float, int, int]]) -> None:
    keys = [p[0] for p in points]
    data = packing.pack_batch(
        keys, [p[1] for p in points], [p[2] for p in points], [p[3] for p in points]
    )
    batch = packing.unpack_batch(data)
    assert list(batch.keys) == keys
    assert [_bits(v) for v in batch.values] == [_bits(p[1]) for p in points]
    assert list(batch.timestamps) == [p[2] for p in points]
    assert list(batch.steps) == [p[3] for p in points]


@given(st.lists(st.tuples(INT64, DOUBLES, INT64, INT64), max_size=50))
def test_blocks_round_trip_bit_for_bit(points: list[tuple[int, float, int, int]]) -> None:
    columns = list(zip(*points, strict=True)) or [(), (), (), ()]
    block = packing.unpack_block(packing.pack_block(*columns))
    assert list(block.seqs) == [p[0] for p in points]
    assert [_bits(v) for v in block.values] == [_bits(p[1]) for p in points]
    assert list(block.timestamps) == [p[2] for p in points]
    assert list(block.steps) == [p[3] for p in points]


def test_a_corrupt_batch_is_an_error_not_wrong_points() -> None:
    data = packing.pack_batch(["a", "b"], [1.0, 2.0], [1, 1], [0, 0])
    with pytest.raises(ValueError, match="2 points"):
        packing.unpack_batch(data.replace(b"a\0b", b"ab\0"[:2]))


def _log_rows() -> int:
    return count_rows("metric_log")


def test_reads_see_points_that_are_not_folded_yet(tracking: str) -> None:
    client = runstack.MlflowClient()
    with runstack.start_run() as run:
        run_id = run.info.run_id
        runstack.log_metrics({"loss": 0.9, "acc": 0.1}, step=0)
        runstack.log_metric("loss", 0.5, step=2)
        runstack.log_metric("loss", 0.7, step=1)  # an older step: not the latest
        runstack.log_metric("acc", math.nan, step=5)
        assert _log_rows() == 4 and count_rows("metric_blocks") == 0
        data = client.get_run(run_id).data
        assert data.metrics["loss"] == 0.5 and math.isnan(data.metrics["acc"])
        assert [m.step for m in data.latest_metrics] == [5, 2]  # acc, loss
        history = client.get_metric_history(run_id, "loss")
        assert [(m.value, m.step) for m in history] == [(0.9, 0), (0.5, 2), (0.7, 1)]
        (listed,) = client.search_runs(["0"])
        assert listed.data.metrics["loss"] == 0.5
        assert _log_rows() == 4  # neither reads nor a search without metrics folded anything
    assert _log_rows() == 0  # ending the run folds it
    assert client.get_run(run_id).data.metrics["loss"] == 0.5


def test_a_newer_point_in_the_log_beats_the_folded_latest_value(tracking: str) -> None:
    client = runstack.MlflowClient()
    run = client.create_run("0")
    run_id = run.info.run_id
    store = get_store(runstack.get_tracking_uri())
    client.log_metric(run_id, "m", 1.0, timestamp=100, step=3)
    store.fold_logged_metrics()
    client.log_metric(run_id, "m", 2.0, timestamp=100, step=3)  # same step and time: later wins
    client.log_metric(run_id, "old", 5.0, timestamp=1, step=0)
    assert client.get_run(run_id).data.metrics == {"m": 2.0, "old": 5.0}
    client.log_metric(run_id, "m", 3.0, timestamp=50, step=3)  # an older time at that step
    assert client.get_run(run_id).data.metrics["m"] == 2.0


def test_searches_on_metrics_fold_first(tracking: str) -> None:
    client = runstack.MlflowClient()
    ids = []
    for value in (0.3, 0.8, 0.6):
        run = client.create_run("0")
        client.log_metric(run.info.run_id, "score", value)
        ids.append(run.info.run_id)
    assert _log_rows() == 3
    found = client.search_runs(["0"], "metrics.score > 0.5", order_by=["metrics.score DESC"])
    assert [r.info.run_id for r in found] == [ids[1], ids[2]]
    assert _log_rows() == 0 and count_rows("latest_metrics") == 3
    ordered = client.search_runs(["0"], order_by=["metrics.score ASC"])
    assert [r.data.metrics["score"] for r in ordered] == [0.3, 0.6, 0.8]


def test_folding_twice_moves_each_point_once(tracking: str) -> None:
    client = runstack.MlflowClient()
    run = client.create_run("0")
    run_id = run.info.run_id
    store = get_store(runstack.get_tracking_uri())
    client.log_batch(run_id, [Metric("k", float(i), 1, i) for i in range(10)])
    assert store.fold_logged_metrics() == 10
    assert store.fold_logged_metrics() == 0
    client.log_batch(run_id, [Metric("k", float(i), 1, i) for i in range(10, 15)])
    assert store.fold_logged_metrics() == 5
    history = client.get_metric_history(run_id, "k")
    assert [m.value for m in history] == [float(i) for i in range(15)]
    blocks = store.db.read(
        lambda tx: tx.all(sa.text("SELECT n_points FROM metric_blocks ORDER BY first_seq"))
    )
    assert [row[0] for row in blocks] == [10, 5]


def test_folds_racing_with_logging_lose_and_duplicate_nothing(store_uri: str) -> None:
    """Writers append to one run while another thread folds it over and over (PostgreSQL:
    concurrent transactions; SQLite: interleaved ones): every point ends up stored once."""
    store = get_store(store_uri)
    client = runstack.MlflowClient(store_uri)
    run_id = client.create_run("0").info.run_id
    writers, calls = 3, 40
    done = threading.Event()
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(calls):
                step = n * calls + i
                metrics = [Metric("k", float(step), 1, step), Metric(f"w{n}", float(i), 1, i)]
                store.log_batch(run_id, metrics, [], [])
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    def fold() -> None:
        try:
            while not done.is_set():
                store.fold_logged_metrics()
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    folder = threading.Thread(target=fold)
    folder.start()
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    folder.join()
    assert errors == []
    history = client.get_metric_history(run_id, "k")
    assert sorted(m.step for m in history) == list(range(writers * calls))
    for n in range(writers):
        assert [m.value for m in client.get_metric_history(run_id, f"w{n}")] == [
            float(i) for i in range(calls)
        ]
    store.fold_logged_metrics()
    assert count_rows("metric_log", store_uri) == 0
    latest = client.get_run(run_id).data.metrics
    assert latest["k"] == float(writers * calls - 1)
    assert all(latest[f"w{n}"] == float(calls - 1) for n in range(writers))


def test_a_fold_keeps_order_when_calls_repeat_a_key_or_change_keys(tracking: str) -> None:
    client = runstack.MlflowClient()
    run_id = client.create_run("0").info.run_id
    store = get_store(runstack.get_tracking_uri())
    expected: dict[str, list[tuple[float, int]]] = {"a": [], "b": [], "c": []}
    for i in range(6):
        # calls 0-2 repeat "a" within the call; calls 3-5 log other key sets
        keys = ["a", "b", "a"] if i < 3 else (["c", "a"] if i % 2 else ["b"])
        metrics = [Metric(k, float(10 * i + n), 1, 10 * i + n) for n, k in enumerate(keys)]
        client.log_batch(run_id, metrics)
        for m in metrics:
            expected[m.key].append((m.value, m.step))
    store.fold_logged_metrics()
    for key, points in expected.items():
        assert [(m.value, m.step) for m in client.get_metric_history(run_id, key)] == points
    assert client.get_run(run_id).data.metrics == {k: v[-1][0] for k, v in expected.items()}
