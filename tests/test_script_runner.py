"""``runstack run``: unchanged MLflow scripts (tests/mlflow_scripts) run against runstack in a
child process, checked in the store; and the ``mlflow`` alias modules themselves."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import runstack
from conftest import run_python
from procs import child_env

SCRIPTS = Path(__file__).parent / "mlflow_scripts"
RUNSTACK = Path(sys.executable).parent / "runstack"


def runstack_run(
    script: str, *args: str, store_uri: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """``runstack run`` of one of tests/mlflow_scripts."""
    return runstack_run_argv(str(SCRIPTS / script), *args, store_uri=store_uri, cwd=cwd)


def runstack_run_argv(*argv: str, store_uri: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``runstack run argv...`` in a child process logging to ``store_uri``."""
    return subprocess.run(
        [str(RUNSTACK), "run", *argv],
        env=child_env({"MLFLOW_TRACKING_URI": store_uri}),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _lines(output: str, prefix: str) -> list[str]:
    return [line[len(prefix) + 1 :] for line in output.splitlines() if line.startswith(prefix)]


@pytest.mark.slow  # child interpreters
def test_training_script(store_uri: str, tmp_path: Path) -> None:
    done = runstack_run(
        "train_regression.py", "--alpha", "0.25", "--epochs", "4", store_uri=store_uri, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    (run_id,) = _lines(done.stdout, "RUN_ID")
    client = runstack.TrackingClient(store_uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "baseline"
    assert run.data.params == {"alpha": "0.25", "epochs": "4"}
    assert run.data.tags["model_type"] == "linear"
    assert [m.step for m in client.get_metric_history(run_id, "loss")] == [0, 1, 2, 3]
    assert client.get_experiment(run.info.experiment_id).name == "regression-demo"
    assert _lines(done.stdout, "ARTIFACT_URI") == [run.info.artifact_uri]
    root = Path(run.info.artifact_uri)
    assert root.is_relative_to(tmp_path)
    assert [f.path for f in client.list_artifacts(run_id)] == ["config", "model", "report.txt"]
    assert json.loads((root / "config" / "params.json").read_text())["layers"] == [8, 4]
    assert (root / "config" / "params.yaml").read_text() == "alpha: 0.25\n"
    assert json.loads((root / "model" / "model.json").read_text()) == {"weights": [0.1, 0.2]}


@pytest.mark.slow  # child interpreters
def test_client_workflow(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/store.db"
    done = runstack_run("client_workflow.py", "client-exp", store_uri=uri, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert _lines(done.stdout, "LISTED") == [
        "[('outputs/plots/a.csv', False, 8), ('outputs/plots/b.csv', False, 8)]"
    ]
    assert _lines(done.stdout, "DOWNLOADED") == ["x,y|1,2"]
    assert _lines(done.stdout, "FOUND") == ["[True]"]
    assert _lines(done.stdout, "CAUGHT") == ["RESOURCE_DOES_NOT_EXIST"]
    client = runstack.TrackingClient(uri)
    experiment = client.get_experiment_by_name("client-exp")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.metrics == {"accuracy": pytest.approx(0.82)}


@pytest.mark.slow  # child interpreters
def test_nested_runs_loaders_and_a_crash(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/store.db"
    done = runstack_run("nested_and_load.py", store_uri=uri, cwd=tmp_path)
    assert done.returncode == 1
    assert "RuntimeError: training diverged" in done.stderr
    assert 'File "' in done.stderr and "nested_and_load.py" in done.stderr
    assert "runpy" not in done.stderr and "script_runner" not in done.stderr
    assert _lines(done.stdout, "LOADED") == ["{'grid': [1, 2]}"]
    assert _lines(done.stdout, "LISTED") == ["['grid.json']"]
    (parent_id,) = _lines(done.stdout, "PARENT")
    crashed_id = _lines(done.stdout, "CRASHING")[0]
    client = runstack.TrackingClient(uri)
    assert client.get_run(parent_id).info.status == "FINISHED"
    assert client.get_run(crashed_id).info.status == "FAILED"
    children = client.search_runs(["0"], f"tags.mlflow.parentRunId = '{parent_id}'")
    assert sorted(r.data.params["value"] for r in children) == ["1", "2"]


@pytest.mark.slow  # child interpreters
def test_unsupported_part_of_mlflow_is_named(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/store.db"
    done = runstack_run("unsupported_flavor.py", store_uri=uri, cwd=tmp_path)
    assert done.returncode == 1
    assert "'mlflow.sklearn' is a part of MLflow that runstack does not provide" in done.stderr
    (run,) = runstack.TrackingClient(uri).search_runs(["0"])
    assert run.info.status == "FAILED"
    assert run.data.params == {"n_estimators": "10"}


@pytest.mark.slow  # child interpreters
def test_exit_code_argv_and_main_are_the_scripts(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/store.db"
    done = runstack_run("exits_with_code.py", "3", store_uri=uri, cwd=tmp_path)
    assert done.returncode == 3
    assert _lines(done.stdout, "ARGV") == ["['3'] __main__"]
    (run,) = runstack.TrackingClient(uri).search_runs(["0"])
    assert run.info.status == "FAILED"  # a non-zero exit, as with `python script.py`
    raised = runstack_run("exits_with_code.py", "4", "raise", store_uri=uri, cwd=tmp_path)
    assert raised.returncode == 4
    statuses = [r.info.status for r in runstack.TrackingClient(uri).search_runs(["0"])]
    assert statuses == ["FAILED", "FAILED"]  # unlike `python script.py` (a known limit there)
    zero = runstack_run("exits_with_code.py", "0", store_uri=uri, cwd=tmp_path)
    assert zero.returncode == 0
    assert {r.info.status for r in runstack.TrackingClient(uri).search_runs(["0"])} == {
        "FAILED",
        "FINISHED",
    }


def test_missing_script_is_a_clear_error(tmp_path: Path) -> None:
    done = runstack_run("no_such_script.py", store_uri=f"sqlite:///{tmp_path}/s.db", cwd=tmp_path)
    assert done.returncode == 1
    assert "no_such_script.py" in done.stderr


@pytest.mark.slow  # child interpreters
def test_alias_modules_in_process() -> None:
    done = run_python(
        """
        import sys
        import mlflow as real  # the installed mlflow-skinny: replaced by install()
        from runstack.script_runner import aliases
        aliases.install()
        import mlflow, mlflow.tracking, mlflow.entities, mlflow.exceptions, mlflow.artifacts
        import runstack
        from mlflow.client import MlflowClient
        from mlflow.tracking import MlflowClient as TrackingMlflowClient
        from mlflow.tracking.client import MlflowClient as DeepClient
        from mlflow.exceptions import MlflowException, RestException
        assert real is not mlflow
        assert mlflow.start_run is runstack.start_run
        assert MlflowClient is TrackingMlflowClient is DeepClient is runstack.TrackingClient
        assert mlflow.tracking.MlflowClient is runstack.TrackingClient
        assert mlflow.entities.FileInfo is runstack.entities.FileInfo
        assert MlflowException is RestException is runstack.RunstackError
        assert mlflow.artifacts.download_artifacts is runstack.artifacts.download_artifacts
        assert "log_artifact" in dir(mlflow)
        try:
            mlflow.keras
        except AttributeError as error:
            print("ATTR", error)
        try:
            import mlflow.models
        except ModuleNotFoundError as error:
            print("MODULE", error.name)
        print("OK", mlflow.__name__)
        """
    )
    assert done.returncode == 0, done.stderr
    assert "ATTR runstack run: 'mlflow.keras' is a part of MLflow" in done.stdout
    assert "MODULE mlflow.models" in done.stdout
    assert "OK mlflow" in done.stdout


@pytest.mark.parametrize(
    ("module", "names"),
    [
        ("runstack.tracking", ["MlflowClient", "get_tracking_uri", "set_tracking_uri"]),
        ("runstack.exceptions", ["MlflowException", "RestException"]),
        ("runstack.client", ["MlflowClient"]),
        ("runstack.artifacts", ["download_artifacts", "list_artifacts", "load_text"]),
        (
            "runstack.entities",
            ["FileInfo", "LifecycleStage", "RunStatus", "ViewType", "SourceType", "Dataset"],
        ),
    ],
)
def test_mlflow_import_paths_exist(module: str, names: list[str]) -> None:
    imported = __import__(module, fromlist=names)
    for name in names:
        assert getattr(imported, name) is not None


def test_is_tracking_uri_set(clean_env: Path) -> None:
    from conftest import reset_fluent_state
    from runstack.tracking import is_tracking_uri_set

    reset_fluent_state()
    assert not is_tracking_uri_set()
    runstack.set_tracking_uri(f"sqlite:///{clean_env}/x.db")
    try:
        assert is_tracking_uri_set()
    finally:
        reset_fluent_state()


def test_mlflow_compatible_entity_helpers() -> None:
    from runstack.entities import LifecycleStage, SourceType, ViewType
    from runstack.errors import InvalidParameterError, MlflowException

    assert LifecycleStage.view_type_to_stages(ViewType.ALL) == ["active", "deleted"]
    assert LifecycleStage.view_type_to_stages(ViewType.DELETED_ONLY) == ["deleted"]
    assert LifecycleStage.matches_view_type(ViewType.ACTIVE_ONLY, "active")
    assert not LifecycleStage.matches_view_type(ViewType.ACTIVE_ONLY, "deleted")
    with pytest.raises(InvalidParameterError, match="'gone'"):
        LifecycleStage.matches_view_type(ViewType.ALL, "gone")
    assert SourceType.from_string("LOCAL") == 4 and SourceType.to_string(1) == "NOTEBOOK"
    assert [ViewType.to_string(v) for v in ViewType] == ["active_only", "deleted_only", "all"]
    assert ViewType.from_string("all") is ViewType.from_string("ALL") is ViewType.ALL
    error = MlflowException.invalid_parameter_value("bad x")
    assert error.get_http_status_code() == 400
    assert json.loads(error.serialize_as_json()) == {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": "bad x",
    }


@pytest.mark.slow  # child interpreters
def test_module_mode_runs_a_module_like_python_m(tmp_path: Path) -> None:
    package = tmp_path / "trainer"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "main.py").write_text(
        "import sys\nimport mlflow\n"
        "with mlflow.start_run(run_name='from-module'):\n"
        "    mlflow.log_param('argv', ' '.join(sys.argv[1:]))\n"
        "print('NAME', __name__, sys.argv[0].endswith('main.py'))\n"
    )
    uri = f"sqlite:///{tmp_path}/store.db"
    done = runstack_run_argv("-m", "trainer.main", "--epochs", "2", store_uri=uri, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert _lines(done.stdout, "NAME") == ["__main__ True"]
    (run,) = runstack.TrackingClient(uri).search_runs(["0"])
    assert run.info.run_name == "from-module"
    assert run.data.params == {"argv": "--epochs 2"}


@pytest.mark.slow  # a child interpreter
def test_more_mlflow_module_paths_under_the_alias() -> None:
    done = run_python(
        """
        from runstack.script_runner import aliases
        aliases.install()
        import mlflow
        import runstack
        from mlflow import *  # noqa: F403
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME, MLFLOW_USER
        from mlflow.entities.run_status import RunStatus
        from mlflow.entities.view_type import ViewType
        from mlflow.entities.lifecycle_stage import LifecycleStage
        from mlflow.store.entities.paged_list import PagedList
        from mlflow.store.entities import PagedList as Paged
        assert mlflow.__version__ == runstack.__version__
        assert start_run is runstack.start_run  # noqa: F405
        assert (MLFLOW_RUN_NAME, MLFLOW_PARENT_RUN_ID, MLFLOW_USER) == (
            "mlflow.runName", "mlflow.parentRunId", "mlflow.user")
        assert RunStatus is runstack.RunStatus and ViewType is runstack.ViewType
        assert LifecycleStage.ACTIVE == "active"
        assert PagedList is Paged is runstack.entities.PagedList
        assert mlflow.get_parent_run is runstack.get_parent_run
        import mlflow.data
        from mlflow.data.pandas_dataset import PandasDataset
        from mlflow.data.sources import LocalArtifactDatasetSource
        assert mlflow.data.from_pandas is runstack.data.from_pandas
        assert PandasDataset is runstack.data.PandasDataset
        assert LocalArtifactDatasetSource is runstack.data.LocalArtifactDatasetSource
        for bad in ("import mlflow.utils.time", "mlflow.utils.file_utils", "mlflow.store.db"):
            try:
                exec(bad)
            except (ImportError, AttributeError) as error:
                print("REFUSED", str(error).split(" is a part")[0])
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "REFUSED runstack run: 'mlflow.utils.time'",
        "REFUSED runstack run: 'mlflow.utils.file_utils'",
        "REFUSED runstack run: 'mlflow.store.db'",
    ]


def test_missing_part_message_names_the_provided_packages_once() -> None:
    from runstack.script_runner import aliases

    assert aliases.PROVIDED == (
        "mlflow, mlflow.artifacts, mlflow.client, mlflow.config, mlflow.data, mlflow.entities, "
        "mlflow.exceptions, mlflow.store.entities, mlflow.tracking, mlflow.utils.mlflow_tags"
    )
