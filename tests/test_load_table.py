"""``load_table`` (fluent and client) on both stores: the tables logged with ``log_table``
across an experiment's runs come back as one DataFrame, with ``extra_columns`` from the runs,
and missing tables or bad column names are clear errors. Also ``get_parent_run`` and
``is_tracking_uri_set``, MLflow's small run-management helpers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import runstack
from runstack.errors import InvalidParameterError, ResourceNotFoundError


def _log_runs(tables: dict[str, dict[str, list[object]]]) -> dict[str, str]:
    """One run per name, each logging its table as eval/results.json; name -> run id."""
    ids = {}
    for name, table in tables.items():
        with runstack.start_run(run_name=name) as run:
            runstack.log_param("model", name)
            runstack.log_table(table, "eval/results.json")
        ids[name] = run.info.run_id
    return ids


def test_tables_of_every_run_in_the_experiment_are_joined(tracking: str) -> None:
    ids = _log_runs(
        {"a": {"q": ["x", "y"], "score": [1.0, 2.0]}, "b": {"q": ["z"], "score": [3.0]}}
    )
    with runstack.start_run():  # a run without the table is not part of the result
        runstack.log_table({"other": [1]}, "other.json")

    table = runstack.load_table("eval/results.json", extra_columns=["run_id", "params.model"])

    assert sorted(table["score"]) == [1.0, 2.0, 3.0]
    assert list(table.columns) == ["q", "score", "run_id", "params.model"]
    by_run = table.groupby("run_id")["q"].apply(sorted).to_dict()
    assert by_run == {ids["a"]: ["x", "y"], ids["b"]: ["z"]}
    assert set(table.loc[table["run_id"] == ids["b"], "params.model"]) == {"b"}


def test_run_ids_select_runs_and_a_clashing_column_gets_an_underscore(
    client: runstack.TrackingClient,
) -> None:
    ids = _log_runs({"a": {"run_id": ["mine"], "v": [1]}, "b": {"run_id": ["theirs"], "v": [2]}})
    experiment_id = runstack.get_run(ids["a"]).info.experiment_id

    table = client.load_table(experiment_id, "eval/results.json", [ids["b"]], ["run_id"])

    assert table.to_dict("list") == {"run_id": ["theirs"], "v": [2], "run_id_": [ids["b"]]}


def test_appended_rows_come_back_in_order(tracking: str) -> None:
    with runstack.start_run():
        runstack.log_table({"step": [1]}, "t.json")
        runstack.log_table(pd.DataFrame({"step": [2, 3]}), "t.json")
    assert runstack.load_table("t.json")["step"].tolist() == [1, 2, 3]


def test_missing_tables_and_bad_columns_are_clear_errors(tracking: str, tmp_path: Path) -> None:
    with pytest.raises(ResourceNotFoundError, match=r"No runs found with the table artifact"):
        runstack.load_table("nothing.json")
    ids = _log_runs({"a": {"v": [1]}})
    with pytest.raises(InvalidParameterError, match=r"unknown extra column.*'params\.nope'"):
        runstack.load_table("eval/results.json", extra_columns=["params.nope"])
    with pytest.raises(InvalidParameterError, match=r"\.json or \.parquet|extension"):
        runstack.load_table("eval/results.csv")
    # The tag says the table exists but its file is gone: named, with the run.
    artifacts_root = Path(runstack.get_run(ids["a"]).info.artifact_uri)
    (artifacts_root / "eval" / "results.json").unlink()
    with pytest.raises(ResourceNotFoundError, match=ids["a"]):
        runstack.load_table("eval/results.json")


def test_get_parent_run(tracking: str) -> None:
    with runstack.start_run() as parent, runstack.start_run(nested=True) as child:
        pass
    found = runstack.get_parent_run(child.info.run_id)
    assert found is not None
    assert found.info.run_id == parent.info.run_id
    assert runstack.get_parent_run(parent.info.run_id) is None
    with pytest.raises(ResourceNotFoundError):
        runstack.get_parent_run("0" * 32)


def test_is_tracking_uri_set(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from runstack import tracking_uri

    tracking_uri.reset()
    try:
        assert runstack.is_tracking_uri_set() is False
        monkeypatch.setenv("MLFLOW_TRACKING_URI", str(clean_env / "env.db"))
        assert runstack.is_tracking_uri_set() is True
        monkeypatch.delenv("MLFLOW_TRACKING_URI")
        runstack.set_tracking_uri(str(clean_env / "explicit.db"))
        assert runstack.is_tracking_uri_set() is True
    finally:
        runstack.set_tracking_uri(None)
