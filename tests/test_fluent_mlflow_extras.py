"""``delete_experiment_tag`` at module level and ``runstack.config`` (MLflow's
``mlflow.config``), on both stores."""

from __future__ import annotations

import os

import pytest

import runstack
from readback import fresh_client
from runstack.errors import InvalidParameterError


def test_delete_experiment_tag_removes_it_from_the_current_experiment(tracking: str) -> None:
    experiment = runstack.set_experiment("tagged")
    runstack.set_experiment_tags({"team": "vision", "stage": "dev"})
    runstack.delete_experiment_tag("stage")
    tags = fresh_client().get_experiment(experiment.experiment_id).tags
    assert tags == {"team": "vision"}
    assert fresh_client().get_experiment("0").tags == {}


def test_delete_experiment_tag_uses_the_default_experiment_when_none_is_set(tracking: str) -> None:
    runstack.set_experiment_tag("owner", "ana")
    runstack.delete_experiment_tag("owner")
    assert fresh_client().get_experiment("0").tags == {}


def test_delete_experiment_tag_with_a_bad_key_is_refused(tracking: str) -> None:
    runstack.set_experiment_tag("owner", "ana")
    with pytest.raises(InvalidParameterError):
        runstack.delete_experiment_tag("")
    assert fresh_client().get_experiment("0").tags == {"owner": "ana"}


def test_enable_async_logging_makes_logging_calls_queue(
    tracking: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runstack import config

    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_LOGGING", "false")  # restored afterwards
    with runstack.start_run() as run:
        assert runstack.log_metric("sync", 1.0) is None
        config.enable_async_logging()
        assert os.environ["MLFLOW_ENABLE_ASYNC_LOGGING"] == "true"  # children too
        queued = runstack.log_metric("queued", 2.0)
        assert queued is not None
        queued.wait()
        config.enable_async_logging(False)
        assert runstack.log_metric("sync_again", 3.0) is None
    metrics = fresh_client().get_run(run.info.run_id).data.metrics
    assert metrics == {"sync": 1.0, "queued": 2.0, "sync_again": 3.0}
