"""``runstack run``: the ``mlflow`` alias reaches the Python child processes the script starts
(multiprocessing spawn and forkserver, subprocess), chains to a user's own sitecustomize,
leaves other Pythons alone, and its hook folder is gone afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import runstack
from procs import child_env

RUNSTACK = Path(sys.executable).parent / "runstack"

PARENT = """
import multiprocessing, os, subprocess, sys
import mlflow

def work(method):
    import mlflow
    with mlflow.start_run(run_name=method) as run:
        mlflow.log_param("method", method)
    return type(mlflow).__name__

if __name__ == "__main__":
    with mlflow.start_run(run_name="parent"):
        mlflow.log_param("role", "parent")
    for method in ("spawn", "forkserver"):
        with multiprocessing.get_context(method).Pool(1) as pool:
            print("POOL", method, pool.map(work, [method])[0])
    done = subprocess.run([sys.executable, "child.py", "sub"], capture_output=True, text=True)
    print("SUB", done.returncode, done.stdout.strip(), done.stderr.strip()[-300:])
    print("HOOK", os.environ["PYTHONPATH"].split(os.pathsep)[0])
"""

CHILD = """
import sys
import mlflow
with mlflow.start_run(run_name=sys.argv[1]):
    mlflow.log_param("method", sys.argv[1])
print(type(mlflow).__name__, "USER_HOOK" in sys.modules)
"""

USER_SITECUSTOMIZE = "import sys\nsys.modules['USER_HOOK'] = sys\n"


def _lines(output: str, prefix: str) -> list[str]:
    return [line[len(prefix) + 1 :] for line in output.splitlines() if line.startswith(prefix)]


@pytest.mark.slow  # several child interpreters
def test_children_get_the_alias_and_log_to_the_same_store(store_uri: str, tmp_path: Path) -> None:
    (tmp_path / "parent.py").write_text(PARENT)
    (tmp_path / "child.py").write_text(CHILD)
    user_site = tmp_path / "user_site"
    user_site.mkdir()
    (user_site / "sitecustomize.py").write_text(USER_SITECUSTOMIZE)
    done = subprocess.run(
        [str(RUNSTACK), "run", "--tracking-uri", store_uri, "parent.py"],
        env=child_env({"PYTHONPATH": str(user_site)}),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert _lines(done.stdout, "POOL") == ["spawn AliasModule", "forkserver AliasModule"]
    # The subprocess got the alias, and the user's own sitecustomize still ran in it.
    assert _lines(done.stdout, "SUB") == ["0 AliasModule True "]
    (hook,) = _lines(done.stdout, "HOOK")
    assert Path(hook).name.startswith("runstack-run-hook-")
    assert not Path(hook).exists()  # removed when the script ended
    runs = runstack.TrackingClient(store_uri).search_runs(["0"])
    assert sorted(r.info.run_name for r in runs) == ["forkserver", "parent", "spawn", "sub"]
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert {r.data.params.get("method") for r in runs} == {None, "forkserver", "spawn", "sub"}


@pytest.mark.slow  # child interpreters
def test_a_python_without_runstack_is_left_alone(tmp_path: Path) -> None:
    other = shutil.which("python3", path="/usr/bin:/bin")
    if other is None or other == sys.executable:
        pytest.skip("no second Python without runstack on this machine")
    if subprocess.run([other, "-c", "import runstack"], capture_output=True).returncode == 0:
        pytest.skip(f"{other} can import runstack")
    (tmp_path / "calls_other.py").write_text(
        "import subprocess, sys\n"
        f"done = subprocess.run([{other!r}, '-c', 'import sys; print(sys.version_info[0])'],"
        " capture_output=True, text=True)\n"
        "print('OTHER', done.returncode, done.stdout.strip(), done.stderr.strip())\n"
    )
    done = subprocess.run(
        [str(RUNSTACK), "run", "calls_other.py"],
        env=child_env({"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/s.db"}),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert _lines(done.stdout, "OTHER") == ["0 3 "]


def test_the_hook_is_only_on_the_path_while_the_script_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from runstack.script_runner.children import inherited_alias

    monkeypatch.setenv("PYTHONPATH", "/somewhere/else")
    with inherited_alias() as folder:
        assert os.environ["PYTHONPATH"] == folder + os.pathsep + "/somewhere/else"
        assert (Path(folder) / "sitecustomize.py").is_file()
    assert os.environ["PYTHONPATH"] == "/somewhere/else"
    assert not Path(folder).exists()
    monkeypatch.delenv("PYTHONPATH")
    with inherited_alias() as folder:
        assert os.environ["PYTHONPATH"] == folder
    assert "PYTHONPATH" not in os.environ
