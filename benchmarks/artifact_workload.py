"""One artifact benchmark case in a fresh process, for ``bench_artifacts.py``.

The same code drives both implementations (``import mlflow`` or ``import runstack as
mlflow``) on an embedded SQLite store in ``--dir`` (artifacts in ``--dir/mlruns``), and prints
one JSON line: the timed seconds, and whether what was logged is stored (``check``).

    python artifact_workload.py --impl runstack --case log_artifact --dir D --source FILE
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any


def load(impl: str) -> Any:
    if impl == "mlflow":
        import mlflow

        return mlflow
    import runstack

    return runstack


def tree_bytes(path: Path) -> tuple[int, int]:
    files = sizes = 0
    for folder, _dirs, names in os.walk(path):
        for name in names:
            files += 1
            sizes += os.path.getsize(os.path.join(folder, name))
    return files, sizes


def case_log_artifact(mlflow: Any, source: Path) -> dict[str, Any]:
    """``log_artifact`` of one (large) file into a run."""
    with mlflow.start_run() as run:
        start = time.perf_counter()
        mlflow.log_artifact(str(source))
        seconds = time.perf_counter() - start
    stored = Path(run.info.artifact_uri.removeprefix("file://")) / source.name
    return {"seconds": seconds, "check": stored.stat().st_size == source.stat().st_size}


def case_log_artifacts(mlflow: Any, source: Path) -> dict[str, Any]:
    """``log_artifacts`` of a folder of many small files into a run."""
    with mlflow.start_run() as run:
        start = time.perf_counter()
        mlflow.log_artifacts(str(source), artifact_path="many")
        seconds = time.perf_counter() - start
    stored = Path(run.info.artifact_uri.removeprefix("file://")) / "many"
    return {"seconds": seconds, "check": tree_bytes(stored) == tree_bytes(source)}


def case_list_artifacts(mlflow: Any, source: Path, repeats: int = 9) -> dict[str, Any]:
    """``MlflowClient().list_artifacts`` of a folder holding every file of ``source``
    (logged before timing); median of ``repeats`` listings with one client."""
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(source), artifact_path="many")
    client = mlflow.MlflowClient()
    client.list_artifacts(run.info.run_id, "many")  # first call: opens the store
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        listing = client.list_artifacts(run.info.run_id, "many")
        times.append(time.perf_counter() - start)
    expected = sum(1 for _ in source.iterdir())
    return {"seconds": statistics.median(times), "all_seconds": times,
            "check": len(listing) == expected}  # fmt: skip


CASES = {
    "log_artifact": case_log_artifact,
    "log_artifacts": case_log_artifacts,
    "list_artifacts": case_list_artifacts,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--impl", choices=("mlflow", "runstack"), required=True)
    parser.add_argument("--case", choices=sorted(CASES), required=True)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--source", type=Path, required=True)
    args = parser.parse_args()
    os.chdir(args.dir)
    mlflow = load(args.impl)
    mlflow.set_tracking_uri(f"sqlite:///{args.dir}/x.db")
    with mlflow.start_run():  # the schema is created before anything is timed
        pass
    result = CASES[args.case](mlflow, args.source)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
