"""One benchmark case, run in a fresh process by ``bench_core.py``.

Usage::

    python workload.py --impl mlflow|runstack --case NAME --dir TMPDIR [--seconds S] [--min-iters N]

The same code drives both implementations: ``--impl mlflow`` does ``import mlflow`` and
``--impl runstack`` does ``import runstack as mlflow``; only MLflow-API calls follow. The
library is imported first, before anything else of this script, so that the import time
measured here is not shortened by standard-library modules this script would load anyway.

Each case points the tracking URI at a fresh SQLite file in TMPDIR, warms up untimed (first
store open and schema creation are not what we measure), runs a time-boxed loop (at least
``--seconds`` and at least ``--min-iters`` iterations) and prints one JSON object as the last
line of stdout.
"""

from __future__ import annotations

import sys
import time
from typing import Any

MODULES = {"mlflow": "mlflow", "runstack": "runstack"}
BATCH_KEYS = 100
WARM_ITERS = 3  # untimed iterations of the timed code path


def _peek_impl(argv: list[str]) -> str:
    """Read ``--impl`` before argparse is imported, so the library import is timed first."""
    for i, arg in enumerate(argv):
        if arg == "--impl" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--impl="):
            return arg.split("=", 1)[1]
    raise SystemExit("workload.py: --impl mlflow|runstack is required")


def _timed_import(impl: str) -> tuple[Any, float]:
    """Import the implementation and return (module, seconds it took)."""
    name = MODULES.get(impl)
    if name is None:
        raise SystemExit(f"workload.py: unknown --impl {impl!r}; use mlflow or runstack")
    t0 = time.perf_counter()
    module = __import__(name)
    return module, time.perf_counter() - t0


# The import must come first, before argparse/json/logging are loaded by this script.
IMPL = _peek_impl(sys.argv[1:])
mlflow, IMPORT_SECONDS = _timed_import(IMPL)

import argparse  # noqa: E402  (deliberately after the timed import)
import json  # noqa: E402
import logging  # noqa: E402
import resource  # noqa: E402
import sqlite3  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402


def quiet() -> None:
    """Silence library logging so stdout carries only our JSON line (stderr is kept for errors)."""
    for name in ("mlflow", "alembic", "sqlalchemy", "runstack"):
        logging.getLogger(name).setLevel(logging.ERROR)


def use_fresh_store(directory: Path) -> str:
    """Point the tracking URI at a new SQLite file inside ``directory``."""
    uri = f"sqlite:///{directory.resolve() / 'x.db'}"
    mlflow.set_tracking_uri(uri)
    return uri


def time_box(
    step: Callable[[int], None], seconds: float, min_iters: int, warm: int = WARM_ITERS
) -> tuple[int, float, float]:
    """Call ``step(i)`` ``warm`` times untimed, then until ``seconds`` and ``min_iters`` are met.

    The warm-up exercises exactly the timed code path once the store exists, so first-call
    costs (caches, prepared statements, lazy imports) are not timed. A time box instead of a
    fixed count lets one setting fit a slow and a fast implementation. ``i`` runs on from the
    warm-up without restarting. Returns (timed iterations, elapsed seconds, CPU seconds); the
    CPU time tells waiting (fsync, locks, a busy machine) apart from work.
    """
    for i in range(warm):
        step(i)
    i = warm
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while True:
        step(i)
        i += 1
        now = time.perf_counter()
        if now >= deadline and i - warm >= min_iters:
            return i - warm, now - t0, time.process_time() - cpu0


def open_store() -> None:
    """Create the schema and the default experiment, untimed: the first run opens the store."""
    mlflow.start_run()
    mlflow.end_run()


def rate(
    timing: tuple[int, float, float], unit: str, ok: bool, per_iter: int = 1
) -> dict[str, Any]:
    """The common result fields of a throughput case."""
    n, elapsed, cpu = timing
    return {
        "iterations": n,
        "elapsed": elapsed,
        "cpu_seconds": cpu,
        "per_second": n * per_iter / elapsed,
        "unit": unit,
        "check": ok,
    }


def case_start_end(seconds: float, min_iters: int) -> dict[str, Any]:
    """start_run() + end_run(): the fixed cost of a run."""
    last: list[str] = []

    def step(_: int) -> None:
        run = mlflow.start_run()
        last[:] = [run.info.run_id]
        mlflow.end_run()

    timing = time_box(step, seconds, min_iters)
    ok = mlflow.get_run(last[0]).info.status == "FINISHED"
    return rate(timing, "runs/s", ok)


def case_log_metric(seconds: float, min_iters: int) -> dict[str, Any]:
    """log_metric one value at a time, synchronous (committed before it returns)."""
    run = mlflow.start_run()

    def step(i: int) -> None:
        mlflow.log_metric("loss", i * 0.5, step=i)

    timing = time_box(step, seconds, min_iters)
    n = timing[0]
    mlflow.end_run()
    last = (n + WARM_ITERS - 1) * 0.5
    ok = mlflow.get_run(run.info.run_id).data.metrics.get("loss") == last
    return rate(timing, "values/s", ok)


def case_log_metrics_batch(seconds: float, min_iters: int) -> dict[str, Any]:
    """log_metrics with 100 keys per call: how well batches are written."""
    values = {f"m{k:03d}": k * 0.25 for k in range(BATCH_KEYS)}
    run = mlflow.start_run()

    def step(i: int) -> None:
        mlflow.log_metrics(values, step=i)

    timing = time_box(step, seconds, min_iters)
    mlflow.end_run()
    metrics = mlflow.get_run(run.info.run_id).data.metrics
    ok = len(metrics) == BATCH_KEYS and metrics.get("m099") == 99 * 0.25
    return rate(timing, "points/s", ok, per_iter=BATCH_KEYS)


def case_log_param(seconds: float, min_iters: int) -> dict[str, Any]:
    """log_param with a new key each call, all in one run."""
    run = mlflow.start_run()

    def step(i: int) -> None:
        mlflow.log_param(f"p{i}", i)

    timing = time_box(step, seconds, min_iters)
    n = timing[0]
    mlflow.end_run()
    params = mlflow.get_run(run.info.run_id).data.params
    total = n + WARM_ITERS
    ok = len(params) == total and params.get(f"p{total - 1}") == str(total - 1)
    return rate(timing, "params/s", ok)


def case_resume(seconds: float, min_iters: int) -> dict[str, Any]:
    """start_run(run_id=...) + end_run() on one existing run: the cost of resuming."""
    run_id = mlflow.start_run().info.run_id
    mlflow.end_run()

    def step(_: int) -> None:
        mlflow.start_run(run_id=run_id)
        mlflow.end_run()

    timing = time_box(step, seconds, min_iters)
    ok = mlflow.get_run(run_id).info.status == "FINISHED"
    return rate(timing, "resumes/s", ok)


def case_import(seconds: float, min_iters: int) -> dict[str, Any]:
    """Only report the import time measured at start-up; the parent repeats this process."""
    del seconds, min_iters
    return {"import_seconds": IMPORT_SECONDS, "unit": "s", "check": True}


def case_peak_rss(seconds: float, min_iters: int) -> dict[str, Any]:
    """A small typical session: 20 runs x (5 params + 50 metric points); report peak RSS."""
    del seconds, min_iters
    for r in range(20):
        mlflow.start_run()
        for p in range(5):
            mlflow.log_param(f"param{p}", f"value-{r}-{p}")
        for s in range(50):
            mlflow.log_metric("loss", 1.0 / (s + 1), step=s)
        mlflow.end_run()
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"peak_rss_mb": kib / 1024.0, "unit": "MB", "check": True}


def case_info(seconds: float, min_iters: int) -> dict[str, Any]:
    """Versions of what is measured, for the report header."""
    del seconds, min_iters
    return {
        "python": sys.version.split()[0],
        "impl_version": str(getattr(mlflow, "__version__", "unknown")),
        "sqlite": sqlite3.sqlite_version,
        "check": True,
    }


CASES: dict[str, Callable[[float, int], dict[str, Any]]] = {
    "start_end": case_start_end,
    "log_metric": case_log_metric,
    "log_metrics_batch": case_log_metrics_batch,
    "log_param": case_log_param,
    "resume": case_resume,
    "import": case_import,
    "peak_rss": case_peak_rss,
    "info": case_info,
}
NEEDS_STORE = {"start_end", "log_metric", "log_metrics_batch", "log_param", "resume", "peak_rss"}
WARMED = NEEDS_STORE - {"peak_rss"}  # peak_rss measures the whole process, store creation included


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options (``--impl`` was already read before the import)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--impl", required=True, choices=sorted(MODULES))
    parser.add_argument("--case", required=True, choices=sorted(CASES))
    parser.add_argument("--dir", required=True, type=Path, help="fresh directory for the store")
    parser.add_argument("--seconds", type=float, default=3.0, help="minimum timed seconds")
    parser.add_argument("--min-iters", type=int, default=20, help="minimum timed iterations")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Run one case and print its result as the last line of stdout."""
    args = parse_args(argv)
    quiet()
    if args.case in NEEDS_STORE:
        use_fresh_store(args.dir)
    if args.case in WARMED:
        open_store()
    result = CASES[args.case](args.seconds, args.min_iters)
    result.update(impl=args.impl, case=args.case)
    sys.stdout.flush()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
