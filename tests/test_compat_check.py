"""scripts/compat_check.py, the scripts check: scripts of a manifest run in fresh folders with
no MLflow variables, with `runstack run` or rewritten imports, setup scripts and files first,
a timeout, and a table of results with the first error line."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from procs import child_env

CHECK = Path(__file__).parents[1] / "scripts" / "compat_check.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compat_check", CHECK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_import_rewriting() -> None:
    rewrite = _module().rewrite_imports
    source = (
        "import mlflow\n"
        "import mlflow.sklearn  # flavor\n"
        "import os, mlflow\n"
        "import mlflow as mf, sys\n"
        "from mlflow.tracking import MlflowClient\n"
        "from mlflow import log_metric\n"
        "    import mlflow\n"
        "import mlflowx\n"
    )
    assert rewrite(source) == (
        "import runstack as mlflow\n"
        "import runstack as mlflow, runstack.sklearn  # flavor\n"
        "import os, runstack as mlflow\n"
        "import runstack as mf, sys\n"
        "from runstack.tracking import MlflowClient\n"
        "from runstack import log_metric\n"
        "    import runstack as mlflow\n"
        "import mlflowx\n"
    )


def test_first_error_is_the_exception_line() -> None:
    first_error = _module().first_error
    stderr = (
        "warning: something\n"
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\n'
        "    boom()\n"
        "    ^^^^^^\n"
        "ValueError: bad thing\n"
        "runstack run: a hint\n"
    )
    assert first_error(stderr) == "ValueError: bad thing"
    assert first_error("plain RuntimeError text\n") == "plain RuntimeError text"


SCRIPTS = {
    "make_exp.py": "import mlflow\nmlflow.create_experiment('shared')\n",
    "uses_exp.py": (
        "import os, mlflow\n"
        "assert 'MLFLOW_TRACKING_URI' not in os.environ, 'leaked'\n"
        "exp = mlflow.get_experiment_by_name('shared')\n"
        "with mlflow.start_run(experiment_id=exp.experiment_id):\n"
        "    mlflow.log_artifacts('inputs')\n"
        "print(open('inputs/a.txt').read())\n"
    ),
    "fails.py": "import mlflow.sklearn\n",
    "sleeps.py": "import time\ntime.sleep(30)\n",
}


@pytest.mark.slow  # child interpreters
@pytest.mark.parametrize("style", ["alias", "import"])
def test_a_manifest_runs_and_is_tabulated(tmp_path: Path, style: str) -> None:
    folder = tmp_path / "scripts"
    folder.mkdir()
    for name, text in SCRIPTS.items():
        (folder / name).write_text(text)
    manifest = [
        {"script": "uses_exp.py", "setup": ["make_exp.py"], "files": {"inputs/a.txt": "hi"}},
        {"script": "fails.py", "source": "ours"},
        {"script": "sleeps.py"},
    ]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "out.json"
    done = subprocess.run(
        [
            sys.executable,
            str(CHECK),
            str(folder),
            "--style",
            style,
            "--timeout",
            "20",
            "--json",
            str(out),
            "--verbose",
        ],
        env=child_env({"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/must-not-be-used.db"}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rows = {row["script"]: row["runstack"] for row in json.loads(out.read_text())}
    assert rows["uses_exp.py"]["result"] == "ok", done.stderr
    assert rows["fails.py"]["result"] == "exit 1"
    assert ".sklearn" in rows["fails.py"]["error"]  # mlflow.sklearn, or runstack.sklearn
    assert rows["sleeps.py"]["result"] == "timeout"
    assert "| uses_exp.py | ok |  |" in done.stdout
    assert f"runstack ({style}): 1 of 3 ok" in done.stdout
    assert not (tmp_path / "must-not-be-used.db").exists()
