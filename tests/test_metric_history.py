"""The metric history survives compaction (metric_log -> metrics) whole and in order."""

from __future__ import annotations

import math

import pytest
import sqlalchemy as sa

import runstack
from runstack.store import get_store
from runstack.store.sql import store as sql_store


def _rows(table: str) -> int:
    store = get_store(runstack.get_tracking_uri())
    return int(store.db.read(lambda tx: tx.scalar(sa.text(f"SELECT COUNT(*) FROM {table}"))))


def test_history_is_whole_and_ordered_across_compactions(
    tracking: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_store, "COMPACT_EVERY", 7)
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
        assert _rows("metrics") > 0 and _rows("metric_log") > 0
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
