"""Module-level functions MLflow scripts call that are plain run management:
``get_parent_run``, ``delete_experiment_tag``, ``is_tracking_uri_set`` (on both stores)."""

from __future__ import annotations

import pytest

import runstack
from readback import fresh_client
from runstack.errors import ResourceNotFoundError


def test_get_parent_run_follows_the_parent_tag(tracking: str) -> None:
    with runstack.start_run(run_name="outer") as outer, runstack.start_run(nested=True) as inner:
        runstack.log_param("depth", 1)
    parent = runstack.get_parent_run(inner.info.run_id)
    assert parent is not None
    assert parent.info.run_id == outer.info.run_id
    assert parent.info.run_name == "outer"
    assert parent.info.status == "FINISHED"
    assert runstack.get_parent_run(outer.info.run_id) is None


def test_get_parent_run_of_an_unknown_run_is_not_found(tracking: str) -> None:
    with pytest.raises(ResourceNotFoundError, match="0123456789abcdef"):
        runstack.get_parent_run("0123456789abcdef")


def test_delete_experiment_tag_removes_it_from_the_current_experiment(tracking: str) -> None:
    experiment = runstack.set_experiment("tagged")
    runstack.set_experiment_tags({"team": "vision", "stage": "dev"})
    runstack.delete_experiment_tag("stage")
    tags = fresh_client().get_experiment(experiment.experiment_id).tags
    assert tags == {"team": "vision"}
    assert fresh_client().get_experiment("0").tags == {}


def test_is_tracking_uri_set_at_top_level(tracking: str) -> None:
    assert runstack.is_tracking_uri_set()  # the fixture set it
    from runstack.tracking import is_tracking_uri_set

    assert is_tracking_uri_set is runstack.is_tracking_uri_set
