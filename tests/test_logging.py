"""Logging (SPEC §6): immutable params, metric history and the latest value, steps and
timestamps, mutable tags, all-or-nothing batches, deleted runs, auto-start, async logging."""

from __future__ import annotations

import logging

import pytest

import runstack
from readback import count_metric_values, count_rows, fresh_client, snapshot
from runstack.entities import Metric, Param, RunTag
from runstack.errors import InvalidParameterError, InvalidStateError, ResourceNotFoundError
from runstack.store.sql import store as sql_store


def _history(run_id: str, key: str) -> list[tuple[float, int, int]]:
    return [(m.value, m.step, m.timestamp) for m in fresh_client().get_metric_history(run_id, key)]


def test_params_are_immutable_with_a_clear_message(tracking: str) -> None:
    run = runstack.start_run()
    assert runstack.log_param("lr", 0.01) == 0.01
    runstack.log_param("lr", "0.01")  # same string form: fine
    with pytest.raises(InvalidParameterError) as caught:
        runstack.log_param("lr", 0.02)
    message = str(caught.value)
    assert "'lr'" in message and "'0.01'" in message and "'0.02'" in message
    assert "immutable" in message
    runstack.log_param("n", 1)
    with pytest.raises(InvalidParameterError):
        runstack.log_param("n", 1.0)  # compared as strings: '1' != '1.0'
    assert fresh_client().get_run(run.info.run_id).data.params == {"lr": "0.01", "n": "1"}


def test_param_values_are_stored_as_str(tracking: str) -> None:
    run = runstack.start_run()
    runstack.log_params({"none": None, "list": [1, 2], "bool": True, "text": "héllo"})
    assert fresh_client().get_run(run.info.run_id).data.params == {
        "none": "None",
        "list": "[1, 2]",
        "bool": "True",
        "text": "héllo",
    }


def test_metric_history_is_kept_in_logging_order(tracking: str) -> None:
    run_id = runstack.start_run().info.run_id
    for value, step, stamp in ((1.0, 5, 300), (2.0, 1, 100), (3.0, 3, 200), (3.0, 3, 200)):
        runstack.log_metric("m", value, step=step, timestamp=stamp)
    # Exact duplicates are kept too: the full history.
    assert _history(run_id, "m") == [(1.0, 5, 300), (2.0, 1, 100), (3.0, 3, 200), (3.0, 3, 200)]
    assert all(m.key == "m" for m in fresh_client().get_metric_history(run_id, "m"))
    assert fresh_client().get_metric_history(run_id, "unknown") == []


def test_history_order_survives_compaction(tracking: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store moves history between tables (every few values, and when a run ends); each
    key's history stays in logging order across those moves."""
    monkeypatch.setattr(sql_store, "FOLD_EVERY_POINTS", 3)
    run_id = runstack.start_run().info.run_id
    expected: dict[str, list[float]] = {"a": [], "b": []}
    for i in range(10):
        key = "ab"[i % 2]
        runstack.log_metric(key, float(9 - i), step=i % 3)
        expected[key].append(float(9 - i))
        if i == 6:
            runstack.end_run()
            runstack.start_run(run_id)
    for key, values in expected.items():
        assert [m.value for m in fresh_client().get_metric_history(run_id, key)] == values
    assert fresh_client().get_run(run_id).data.metrics == {"a": 1.0, "b": 4.0}


def test_latest_value_is_highest_step_then_latest_timestamp(tracking: str) -> None:
    run_id = runstack.start_run().info.run_id
    runstack.log_metric("a", 1.0, step=5, timestamp=1000)
    runstack.log_metric("a", 2.0, step=2, timestamp=9000)  # later but a lower step
    runstack.log_metric("b", 1.0, step=1, timestamp=5000)
    runstack.log_metric("b", 2.0, step=1, timestamp=4000)  # same step, older
    runstack.log_metric("b", 3.0, step=1, timestamp=6000)  # same step, newest
    runstack.log_metric("c", 1.0, step=1, timestamp=10)
    runstack.log_metric("c", -1.0, step=1, timestamp=10)  # full tie: the one logged last
    stored = fresh_client().get_run(run_id)
    assert stored.data.metrics == {"a": 1.0, "b": 3.0, "c": -1.0}
    latest = {m.key: (m.step, m.timestamp) for m in stored.data.latest_metrics}
    assert latest == {"a": (5, 1000), "b": (1, 6000), "c": (1, 10)}


def test_latest_value_within_one_batch(tracking: str) -> None:
    run_id = runstack.start_run().info.run_id
    client = fresh_client()
    client.log_batch(
        run_id,
        metrics=[Metric("m", 1.0, 50, 9), Metric("m", 2.0, 99, 3), Metric("m", 3.0, 60, 9)],
    )
    assert client.get_run(run_id).data.metrics == {"m": 3.0}
    client.log_batch(run_id, metrics=[Metric("m", 4.0, 1, 8)])
    assert client.get_run(run_id).data.metrics == {"m": 3.0}


def test_timestamp_zero_is_kept(tracking: str) -> None:
    run_id = runstack.start_run().info.run_id
    runstack.log_metric("single", 1.0, timestamp=0)
    runstack.log_metrics({"batch": 2.0}, timestamp=0)
    fresh_client().log_metric(run_id, "client", 3.0, timestamp=0)
    for key in ("single", "batch", "client"):
        assert [m.timestamp for m in fresh_client().get_metric_history(run_id, key)] == [0]


def test_default_step_and_timestamp(tracking: str) -> None:
    run_id = runstack.start_run().info.run_id
    runstack.log_metric("m", 1.0)
    (metric,) = fresh_client().get_metric_history(run_id, "m")
    assert metric.step == 0
    assert metric.timestamp > 1_600_000_000_000
    runstack.log_metrics({"x": 1.0, "y": 2.0}, step=7)
    assert {m.key: m.step for m in fresh_client().get_run(run_id).data.latest_metrics} == {
        "m": 0,
        "x": 7,
        "y": 7,
    }


def test_steps_must_be_integers(tracking: str) -> None:
    run_id = runstack.start_run().info.run_id
    runstack.log_metric("m", 1.0, step=2.0)
    runstack.log_metric("m", 2.0, step=-3)
    assert [(m.step, type(m.step)) for m in fresh_client().get_metric_history(run_id, "m")] == [
        (2, int),
        (-3, int),
    ]
    counts = snapshot()
    for bad in (1.5, True, False, "3", float("nan"), float("inf"), 2**63, -(2**63) - 1):
        with pytest.raises(InvalidParameterError) as caught:
            runstack.log_metric("m", 1.0, step=bad)  # type: ignore[arg-type]
        assert "step" in str(caught.value)
    with pytest.raises(InvalidParameterError):
        runstack.log_metrics({"ok": 1.0}, step=0.5)  # type: ignore[arg-type]
    assert snapshot() == counts


def test_metric_values_are_converted_or_rejected(tracking: str) -> None:
    run_id = runstack.start_run().info.run_id
    runstack.log_metric("int", 3)
    runstack.log_metric("text", "2.5")  # type: ignore[arg-type]
    assert fresh_client().get_run(run_id).data.metrics == {"int": 3.0, "text": 2.5}
    counts = snapshot()
    for bad in ("abc", None, [1.0], object()):
        with pytest.raises(InvalidParameterError) as caught:
            runstack.log_metric("bad", bad)  # type: ignore[arg-type]
        assert "'bad'" in str(caught.value)
    with pytest.raises(InvalidParameterError):
        runstack.log_metric("m", 1.0, timestamp=-1)
    assert snapshot() == counts


def test_tags_are_mutable_and_deletable(tracking: str) -> None:
    run_id = runstack.start_run().info.run_id
    runstack.set_tag("t", "one")
    runstack.set_tag("t", "two")
    runstack.set_tags({"u": 1, "v": None})
    tags = fresh_client().get_run(run_id).data.tags
    assert (tags["t"], tags["u"], tags["v"]) == ("two", "1", "None")
    runstack.delete_tag("t")
    assert "t" not in fresh_client().get_run(run_id).data.tags
    with pytest.raises(ResourceNotFoundError) as caught:
        runstack.delete_tag("t")
    assert "'t'" in str(caught.value) and run_id in str(caught.value)


def test_setting_the_run_name_tag_renames_the_run(tracking: str) -> None:
    run_id = runstack.start_run(run_name="before").info.run_id
    runstack.set_tag("mlflow.runName", "after")
    assert fresh_client().get_run(run_id).info.run_name == "after"


def test_batch_with_a_param_conflict_writes_nothing(tracking: str) -> None:
    run_id = runstack.start_run().info.run_id
    runstack.log_param("fixed", "a")
    counts = snapshot()
    client = fresh_client()
    with pytest.raises(InvalidParameterError) as caught:
        client.log_batch(
            run_id,
            metrics=[Metric("m", 1.0, 1, 0)],
            params=[Param("new", "x"), Param("fixed", "b")],
            tags=[RunTag("t", "v")],
        )
    assert "'fixed'" in str(caught.value)
    assert snapshot() == counts
    stored = client.get_run(run_id)
    assert stored.data.metrics == {} and stored.data.params == {"fixed": "a"}
    assert "t" not in stored.data.tags


def test_fluent_batches_are_all_or_nothing(tracking: str) -> None:
    run_id = runstack.start_run().info.run_id
    runstack.log_param("p249", "old")
    counts = snapshot()
    # 250 params (MLflow splits these into pieces of 100 and commits the first ones).
    with pytest.raises(InvalidParameterError):
        runstack.log_params({f"p{i}": "new" for i in range(250)})
    with pytest.raises(InvalidParameterError):
        runstack.log_metrics({**{f"m{i}": float(i) for i in range(50)}, "bad": "x"})  # type: ignore[dict-item]
    with pytest.raises(InvalidParameterError):
        runstack.set_tags({**{f"t{i}": "v" for i in range(50)}, "bad$": "v"})
    with pytest.raises(InvalidParameterError):
        fresh_client().log_batch(run_id, params=[Param("d", "1"), Param("d", "2")])
    assert snapshot() == counts


def test_large_batches_are_stored_whole(tracking: str) -> None:
    run_id = runstack.start_run().info.run_id
    runstack.log_params({f"p{i}": i for i in range(250)})
    runstack.log_metrics({f"m{i}": float(i) for i in range(2500)}, step=1)
    runstack.set_tags({f"t{i}": i for i in range(150)})
    stored = fresh_client().get_run(run_id)
    assert len(stored.data.params) == 250
    assert len(stored.data.metrics) == 2500
    assert stored.data.metrics["m2499"] == 2499.0
    assert all(stored.data.tags[f"t{i}"] == str(i) for i in range(150))
    assert count_metric_values() == 2500


def test_logging_to_a_deleted_run_is_an_error(tracking: str) -> None:
    run_id = runstack.start_run().info.run_id
    runstack.set_tag("t", "v")
    runstack.delete_run(run_id)
    client = fresh_client()
    counts = snapshot()
    attempts = [
        lambda: runstack.log_param("p", 1),
        lambda: runstack.log_metric("m", 1.0),
        lambda: runstack.log_metrics({"m": 1.0}),
        lambda: runstack.set_tag("t", "w"),
        lambda: runstack.delete_tag("t"),
        lambda: client.log_batch(run_id, params=[Param("p", "1")]),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidStateError) as caught:
            attempt()
        assert run_id in str(caught.value) and "restore_run" in str(caught.value)
    assert snapshot() == counts


def test_logging_to_a_finished_run_through_the_client(tracking: str) -> None:
    with runstack.start_run() as run:
        pass
    fresh_client().log_metric(run.info.run_id, "late", 1.0)
    assert fresh_client().get_run(run.info.run_id).data.metrics == {"late": 1.0}


def test_auto_start_logs_one_warning(tracking: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    runstack.log_metric("m", 1.0)
    run = runstack.active_run()
    assert run is not None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert run.info.run_id in warnings[0].getMessage()
    runstack.log_param("p", 1)
    runstack.set_tag("t", "v")
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    stored = fresh_client().get_run(run.info.run_id)
    assert stored.info.status == "RUNNING"
    assert (stored.data.metrics, stored.data.params) == ({"m": 1.0}, {"p": "1"})
    assert count_rows("runs") == 1


def test_auto_start_for_every_fluent_logger(
    tracking: str, caplog: pytest.LogCaptureFixture, subtests: pytest.Subtests
) -> None:
    calls = {
        "log_param": lambda: runstack.log_param("p", 1),
        "log_params": lambda: runstack.log_params({"p": 1}),
        "log_metrics": lambda: runstack.log_metrics({"m": 1.0}),
        "set_tag": lambda: runstack.set_tag("t", 1),
        "set_tags": lambda: runstack.set_tags({"t": 1}),
    }
    caplog.set_level(logging.WARNING)
    for name, call in calls.items():
        with subtests.test(function=name):
            caplog.clear()
            call()
            run = runstack.active_run()
            assert run is not None
            assert [r.levelno for r in caplog.records] == [logging.WARNING]
            runstack.end_run()


def test_run_id_argument_skips_the_stack(tracking: str, caplog: pytest.LogCaptureFixture) -> None:
    with runstack.start_run() as target:
        pass
    caplog.set_level(logging.WARNING)
    runstack.log_metric("m", 1.0, run_id=target.info.run_id)
    runstack.log_metrics({"n": 2.0}, run_id=target.info.run_id)
    runstack.log_params({"p": 3}, run_id=target.info.run_id)
    assert runstack.active_run() is None
    assert caplog.records == []
    stored = fresh_client().get_run(target.info.run_id)
    assert stored.data.metrics == {"m": 1.0, "n": 2.0}
    assert stored.data.params == {"p": "3"}


def test_async_logging(tracking: str) -> None:
    run_id = runstack.start_run().info.run_id
    operation = runstack.log_metric("m", 1.0, synchronous=False)
    assert operation is not None
    operation.wait()
    assert fresh_client().get_run(run_id).data.metrics == {"m": 1.0}
    runstack.log_params({"p": 1}, synchronous=False)
    runstack.flush_async_logging()
    assert fresh_client().get_run(run_id).data.params == {"p": "1"}
    failing = runstack.log_params({"p": 2}, synchronous=False)
    with pytest.raises(InvalidParameterError):
        failing.wait()
    assert fresh_client().get_run(run_id).data.params == {"p": "1"}
