"""``delete_experiment_tag`` at module level, as MLflow's fluent API has it (both stores)."""

from __future__ import annotations

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
