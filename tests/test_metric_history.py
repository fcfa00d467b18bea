"""The metric history survives folding (metric_log -> metric_blocks) whole and in order."""

from __future__ import annotations

import math

import pytest
import sqlalchemy as sa

import runstack
from runstack.entities import Metric
from runstack.store import get_store
from runstack.store.sql import store as sql_store


def _rows(table: str) -> int:
    store = get_store(runstack.get_tracking_uri())
    return int(store.db.read(lambda tx: tx.scalar(sa.text(f"SELECT COUNT(*) FROM {table}"))))


def test_history_is_whole_and_ordered_across_compactions(
    tracking: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_store, "FOLD_EVERY_POINTS", 7)
    client = runstack.MlflowClient()
    logged: list[tuple[float, int]] = []
    with runstack.start_run() as run:
        for i in range(23):
            value = [0.5 * i, math.inf, -0.0, math.nan][i % 4]
            # steps go down and up: the history keeps logging order, not step order
            step = (i * 7) % 11
            runstack.log_metrics({"loss": value, "other": float(i)}, step=step)
            logged.append((value, step))
        # some values compacted, the newest still in the log
        assert _rows("metric_blocks") > 0 and _rows("metric_log") > 0
        history = client.get_metric_history(run.info.run_id, "loss")
        assert [(m.step) for m in history] == [s for _, s in logged]
        for metric, (value, _) in zip(history, logged, strict=True):
            assert metric.value == value or (math.isnan(metric.value) and math.isnan(value))
            assert math.copysign(1, metric.value) == math.copysign(1, value)
    # ending the run compacts what is left
    assert _rows("metric_log") == 0
    assert len(client.get_metric_history(run.info.run_id, "other")) == 23
    latest = client.get_run(run.info.run_id).data.metrics["other"]
    steps = [(i * 7) % 11 for i in range(23)]
    assert latest == float(max(range(23), key=lambda i: (steps[i], i)))


def _same(a: float, b: float) -> bool:
    """Equal as logged: NaN matches NaN, and -0.0 only matches -0.0."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1, a) == math.copysign(1, b)


def test_large_batch_keeps_order_values_and_latest(tracking: str) -> None:
    # On PostgreSQL a batch this size is written with unnest() (one statement per table);
    # the result must be the same as row by row: history in logging order, every special
    # value exact, and each key's latest value the newest by step then timestamp.
    client = runstack.MlflowClient()
    specials = [math.nan, math.inf, -math.inf, -0.0, 0.0]
    with runstack.start_run() as run:
        run_id = run.info.run_id
        # already newer than anything in the batch: the batch must not replace it
        client.log_metric(run_id, "k0", 42.0, timestamp=5, step=1_000)
        batch: list[Metric] = []
        for i in range(1000):
            value = specials[i % 7] if i % 7 < len(specials) else float(i) * 1.5
            # steps go down and up, with ties at the same timestamp (the later value wins)
            batch.append(Metric(f"k{i % 97}", value, 10 + i % 3, (i * 7) % 13))
        client.log_batch(run_id, metrics=batch)

        expected_history: dict[str, list[Metric]] = {}
        for metric in batch:
            expected_history.setdefault(metric.key, []).append(metric)
        for key, wanted in expected_history.items():
            history = client.get_metric_history(run_id, key)
            if key == "k0":
                assert (history[0].value, history[0].step) == (42.0, 1_000)
                history = history[1:]
            assert [(m.step, m.timestamp) for m in history] == [
                (m.step, m.timestamp) for m in wanted
            ]
            for got, logged in zip(history, wanted, strict=True):
                assert _same(got.value, logged.value), (key, got, logged)

        latest = {m.key: m for m in client.get_run(run_id).data.latest_metrics}
        assert len(latest) == 97
        for key, wanted in expected_history.items():
            newest = max(reversed(wanted), key=lambda m: (m.step, m.timestamp))
            got = latest[key]
            if key == "k0":
                assert (got.value, got.step, got.timestamp) == (42.0, 1_000, 5)
                continue
            assert (got.step, got.timestamp) == (newest.step, newest.timestamp)
            assert _same(got.value, newest.value), (key, got, newest)
