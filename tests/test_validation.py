"""Validation (SPEC §6): key characters, path-like keys, length limits, no truncation; every
error names the value and the rule, and nothing is written after a failure."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import runstack
from readback import fresh_client, snapshot
from runstack.errors import InvalidParameterError

GOOD_KEYS = ["a", "Train Loss", "a/b", "a.b-c_d", "x:y", "é", "日本語", "k" * 250, "é" * 250]
BAD_CHAR_KEYS = ["a$b", "a\tb", "a\nb", "a!", "a@b", "a#b", "a,b", "a\\b", "a*b", "a\x00b", "a\n"]
PATH_KEYS = ["", ".", "./a", "a//b", "a/../b", "/a", "../a", "a/", "a/.", "..b"]


def _loggers(run_id: str) -> dict[str, Callable[[object], object]]:
    """Every way to log a key to a run."""
    client = fresh_client()
    return {
        "param": lambda key: runstack.log_param(key, "v"),  # type: ignore[arg-type]
        "params": lambda key: runstack.log_params({key: "v"}),
        "metric": lambda key: runstack.log_metric(key, 1.0),  # type: ignore[arg-type]
        "metrics": lambda key: runstack.log_metrics({key: 1.0}),
        "tag": lambda key: runstack.set_tag(key, "v"),  # type: ignore[arg-type]
        "tags": lambda key: runstack.set_tags({key: "v"}),
        "client_param": lambda key: client.log_param(run_id, key, "v"),  # type: ignore[arg-type]
        "client_metric": lambda key: client.log_metric(run_id, key, 1.0),  # type: ignore[arg-type]
        "client_tag": lambda key: client.set_tag(run_id, key, "v"),  # type: ignore[arg-type]
    }


def test_good_keys_round_trip(tracking: str) -> None:
    run_id = runstack.start_run().info.run_id
    for log in _loggers(run_id).values():
        for key in GOOD_KEYS:
            log(key)
    stored = fresh_client().get_run(run_id)
    assert set(GOOD_KEYS) <= set(stored.data.params)
    assert set(GOOD_KEYS) <= set(stored.data.metrics)
    assert set(GOOD_KEYS) <= set(stored.data.tags)


def test_bad_keys_are_refused_by_every_logger(tracking: str, subtests: pytest.Subtests) -> None:
    run_id = runstack.start_run().info.run_id
    counts = snapshot()
    for name, log in _loggers(run_id).items():
        for key in BAD_CHAR_KEYS:
            with subtests.test(logger=name, key=key):
                with pytest.raises(InvalidParameterError) as caught:
                    log(key)
                message = str(caught.value)
                assert repr(key) in message
                assert "letters, digits" in message and "slashes" in message
        for key in PATH_KEYS:
            with subtests.test(logger=name, key=key):
                with pytest.raises(InvalidParameterError) as caught:
                    log(key)
                assert repr(key) in str(caught.value)
        with subtests.test(logger=name, key="k" * 251):
            with pytest.raises(InvalidParameterError) as caught:
                log("k" * 251)
            assert "251" in str(caught.value) and "250" in str(caught.value)
        dict_logger = name in ("params", "metrics", "tags")  # dict keys must be hashable
        for key in (5, None, b"bytes") if dict_logger else (5, None, b"bytes", ["a"], {"a": 1}):
            with subtests.test(logger=name, key=repr(key)):
                with pytest.raises(InvalidParameterError) as caught:
                    log(key)
                assert "string" in str(caught.value) or repr(key) in str(caught.value)
    assert snapshot() == counts


def test_path_errors_explain_the_rule(tracking: str) -> None:
    runstack.start_run()
    with pytest.raises(InvalidParameterError) as caught:
        runstack.log_param("a/../b", 1)
    assert "path" in str(caught.value) and "'b'" in str(caught.value)


VALUE_LIMITS: dict[str, tuple[Callable[[str], object], int]] = {
    "log_param": (lambda v: runstack.log_param("p", v), 6000),
    "log_params": (lambda v: runstack.log_params({"p": v}), 6000),
    "set_tag": (lambda v: runstack.set_tag("t", v), 8000),
    "set_tags": (lambda v: runstack.set_tags({"t": v}), 8000),
}


def test_value_limits_without_truncation(tracking: str, subtests: pytest.Subtests) -> None:
    run_id = runstack.start_run().info.run_id
    for name, (log, limit) in VALUE_LIMITS.items():
        with subtests.test(function=name):
            counts = snapshot()
            with pytest.raises(InvalidParameterError) as caught:
                log("é" * (limit + 1))
            message = str(caught.value)
            assert str(limit + 1) in message and str(limit) in message
            assert "truncate" in message
            assert snapshot() == counts
            log("é" * limit)  # exactly at the limit: stored in full
            data = fresh_client().get_run(run_id).data
            stored = data.params["p"] if limit == 6000 else data.tags["t"]
            assert stored == "é" * limit


def test_description_and_run_name_limits(tracking: str) -> None:
    counts = snapshot()
    with pytest.raises(InvalidParameterError) as caught:
        runstack.start_run(description="d" * 8001)
    assert "8001" in str(caught.value)
    with pytest.raises(InvalidParameterError) as caught:
        runstack.start_run(run_name="n" * 251)
    assert "'nnn" in str(caught.value) and "250" in str(caught.value)
    assert snapshot() == counts
    run_id = runstack.start_run(run_name="n" * 250, description="d" * 8000).info.run_id
    stored = fresh_client().get_run(run_id)
    assert stored.info.run_name == "n" * 250
    assert stored.data.tags["mlflow.note.content"] == "d" * 8000


def test_run_name_tag_follows_the_run_name_rule(tracking: str) -> None:
    """The mlflow.runName tag renames the run, so it cannot exceed the run-name limit."""
    run_id = runstack.start_run(run_name="short").info.run_id
    client = fresh_client()
    counts = snapshot()
    for attempt in (
        lambda: runstack.set_tag("mlflow.runName", "n" * 251),
        lambda: runstack.set_tags({"mlflow.runName": "n" * 251}),
        lambda: client.create_run("0", tags={"mlflow.runName": "n" * 251}),
    ):
        with pytest.raises(InvalidParameterError) as caught:
            attempt()
        assert "250" in str(caught.value)
    assert snapshot() == counts
    assert client.get_run(run_id).info.run_name == "short"
    runstack.end_run()
    with pytest.raises(InvalidParameterError):
        runstack.start_run(run_id, tags={"mlflow.runName": "n" * 251})
    assert client.get_run(run_id).info.status == "FINISHED"


def test_experiment_name_limit(tracking: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        runstack.create_experiment("e" * 501)
    assert "501" in str(caught.value) and "500" in str(caught.value)
    with pytest.raises(InvalidParameterError):
        runstack.set_experiment("e" * 501)
    assert runstack.get_experiment_by_name("e" * 500) is None
    experiment_id = runstack.create_experiment("é" * 500)
    assert fresh_client().get_experiment(experiment_id).name == "é" * 500
    for bad in ("", "   ", None, 5):
        with pytest.raises(InvalidParameterError):
            runstack.create_experiment(bad)  # type: ignore[arg-type]


def test_unstorable_characters_are_refused_on_every_backend(
    tracking: str, subtests: pytest.Subtests
) -> None:
    """NUL: SQLite could store it, PostgreSQL cannot. Lone surrogates: no UTF-8 driver can
    send them. runstack refuses both the same way on every backend, before any write."""
    run_id = runstack.start_run().info.run_id
    client = fresh_client()
    counts = snapshot()
    attempts: dict[str, Callable[[str], object]] = {
        "log_param": lambda v: runstack.log_param("p", v),
        "set_tag": lambda v: runstack.set_tag("t", v),
        "set_tags": lambda v: runstack.set_tags({"t": v}),
        "update_run": lambda v: client.update_run(run_id, name=v),
        "start_run": lambda v: runstack.start_run(nested=True, description=v),
        "create_experiment": lambda v: runstack.create_experiment(v),
        "set_experiment_tag": lambda v: client.set_experiment_tag("0", "t", v),
    }
    for bad, rule in (("a\x00b", "NUL"), ("a\ud800b", "surrogate")):
        for where, attempt in attempts.items():
            with subtests.test(where=where, rule=rule):
                with pytest.raises(InvalidParameterError) as caught:
                    attempt(bad)
                assert rule in str(caught.value)
    assert snapshot() == counts


def test_run_id_format(tracking: str) -> None:
    client = fresh_client()
    for bad in ("", "-abc", "a b", "a/b", "x" * 257, "abc\n", 5, None):
        with pytest.raises(InvalidParameterError) as caught:
            client.get_run(bad)  # type: ignore[arg-type]
        assert "run id" in str(caught.value)


def test_errors_are_runstack_errors_with_codes(tracking: str) -> None:
    runstack.start_run()
    with pytest.raises(runstack.MlflowException) as caught:
        runstack.log_param("bad$", 1)
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert caught.value.http_status == 400
    assert caught.value.to_dict() == {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": str(caught.value),
    }
