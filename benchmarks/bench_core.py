"""Benchmark runstack against MLflow 3.17.2 on this machine, in one run, both on SQLite.

Usage::

    .venv/bin/python benchmarks/bench_core.py [--quick] [--only mlflow|runstack]
                                              [--repeat N] [--json PATH]

runstack runs under the interpreter that runs this script (the project's virtualenv); MLflow
runs in its own virtualenv, ``benchmarks/.venv-mlflow``, which this script creates and fills
with ``mlflow==3.17.2`` when it is missing (MLflow must never enter the project's venv).
Every case runs in a fresh process with a fresh SQLite file (``workload.py``), MLflow and
runstack alternating sample by sample so that drifting machine load hits both alike.

Exit status: 0 when every line passes (with ``--only``: when every line was measured and its
stored data checked), 1 when a line fails its target, errors or fails its check, 2 when the
benchmark could not start (MLflow install failed, runstack not importable).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MLFLOW_VERSION = "3.17.2"
HERE = Path(__file__).resolve().parent
WORKLOAD = HERE / "workload.py"
MLFLOW_VENV = HERE / ".venv-mlflow"
WORK_ROOT = HERE / ".work"  # git-ignored scratch space for the SQLite files
IMPLS = ("mlflow", "runstack")
CHILD_TIMEOUT = 900.0
# Variables that would steer a child to another store, run or experiment than the fresh one.
SCRUBBED_ENV = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_RUN_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
)
QUIET_ENV = {
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",  # keep stdout for our JSON line
    "MLFLOW_DISABLE_TELEMETRY": "true",  # no network calls on a closed network
    "DO_NOT_TRACK": "true",
    "PYTHONWARNINGS": "ignore",
}


class BenchError(RuntimeError):
    """The benchmark could not measure something (child crashed, install failed, ...)."""


@dataclass(frozen=True)
class Settings:
    """How long and how often each case runs."""

    seconds: float  # minimum timed seconds per throughput case
    min_iters: int  # minimum timed iterations per throughput case
    import_reps: int  # fresh processes for the import median
    repeat: int  # samples of each throughput case; the best is reported


@dataclass(frozen=True)
class Target:
    """One table line: which figure, in which direction, and the bar runstack must clear."""

    case: str
    unit: str
    kind: str  # "throughput" (higher is better), "import" or "rss" (lower is better)
    threshold: float
    label: str


TARGETS = (
    Target("start_end", "runs/s", "throughput", 20.0, ">= 20x"),
    Target("log_metric", "values/s", "throughput", 20.0, ">= 20x"),
    Target("log_metrics_batch", "points/s", "throughput", 50.0, ">= 50x"),
    Target("log_param", "params/s", "throughput", 20.0, ">= 20x"),
    Target("resume", "resumes/s", "throughput", 20.0, ">= 20x"),
    Target("import", "ms", "import", 10.0, ">= 10x faster"),
    Target("peak_rss", "MB", "rss", 1.0 / 3.0, "<= 0.33x"),
)


# --------------------------------------------------------------------------- interpreters


def mlflow_python() -> Path:
    """The MLflow venv's interpreter."""
    return MLFLOW_VENV / "bin" / "python"


def installed_mlflow_version(python: Path) -> str | None:
    """The mlflow version installed for ``python``, or None when there is none."""
    if not python.exists():
        return None
    code = "import importlib.metadata as m; print(m.version('mlflow'))"
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def ensure_mlflow_venv() -> Path:
    """Create ``.venv-mlflow`` with mlflow==3.17.2 unless it already has exactly that."""
    python = mlflow_python()
    if installed_mlflow_version(python) == MLFLOW_VERSION:
        return python
    log(f"installing mlflow=={MLFLOW_VERSION} into {MLFLOW_VENV} (one-time, a few minutes)")
    if not python.exists():
        run_checked([sys.executable, "-m", "venv", str(MLFLOW_VENV)], "creating the MLflow venv")
    run_checked(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-q",
            f"mlflow=={MLFLOW_VERSION}",
        ],
        "pip install mlflow",
    )
    version = installed_mlflow_version(python)
    if version != MLFLOW_VERSION:
        raise BenchError(
            f"{MLFLOW_VENV} has mlflow {version!r} after install, expected {MLFLOW_VERSION}"
        )
    return python


def ensure_runstack_importable(python: Path) -> None:
    """Fail early, with the import error, when runstack cannot be imported yet."""
    proc = subprocess.run(
        [str(python), "-c", "import runstack"], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise BenchError(
            f"`import runstack` fails under {python}:\n{tail(proc.stderr)}\n"
            "Install it with `.venv/bin/pip install -e .`, "
            "or measure MLflow alone with --only mlflow."
        )


def run_checked(cmd: list[str], what: str) -> None:
    """Run a setup command; on failure raise with the end of its output."""
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BenchError(
            f"{what} failed (exit {proc.returncode}):\n{tail(proc.stdout + proc.stderr)}"
        )


# --------------------------------------------------------------------------- children


def child_env() -> dict[str, str]:
    """The environment for workload children: no inherited run state, no chatter."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env.update(QUIET_ENV)
    return env


def run_workload(python: Path, impl: str, case: str, settings: Settings) -> dict[str, Any]:
    """Run one case in a fresh process and directory; return its JSON result."""
    WORK_ROOT.mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"{impl}-{case}-", dir=WORK_ROOT))
    cmd = [
        str(python), str(WORKLOAD), "--impl", impl, "--case", case, "--dir", str(workdir),
        "--seconds", str(settings.seconds), "--min-iters", str(settings.min_iters),
    ]  # fmt: skip
    try:
        t0 = time.perf_counter()
        proc = subprocess.run(
            cmd,
            cwd=workdir,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT,
            check=False,
        )
        wall = time.perf_counter() - t0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if proc.returncode != 0:
        raise BenchError(
            f"{impl} {case}: exit {proc.returncode}\n{tail(proc.stderr or proc.stdout)}"
        )
    result = parse_last_json_line(proc.stdout, f"{impl} {case}")
    result["process_wall_seconds"] = wall
    return result


def parse_last_json_line(stdout: str, what: str) -> dict[str, Any]:
    """The child's result is its last non-empty stdout line; earlier library output is ignored."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise BenchError(f"{what}: no output")
    try:
        value = json.loads(lines[-1])
    except json.JSONDecodeError as exc:
        raise BenchError(f"{what}: last line is not JSON: {lines[-1][:200]!r}") from exc
    if not isinstance(value, dict):
        raise BenchError(f"{what}: expected a JSON object, got {lines[-1][:200]!r}")
    return value


def bare_python_seconds(python: Path, reps: int) -> float:
    """Median wall time of ``python -c pass``: the interpreter's own start-up cost."""
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        subprocess.run([str(python), "-c", "pass"], env=child_env(), check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# --------------------------------------------------------------------------- cases


def summarize_throughput(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """The best sample: other work on a shared machine only ever slows a run down.

    Every sample and their median are kept for the JSON report.
    """
    rates = [float(r["per_second"]) for r in samples]
    best = dict(max(samples, key=lambda r: float(r["per_second"])))
    best.update(
        value=max(rates),
        median_per_second=statistics.median(rates),
        all_per_second=rates,
        check=all(bool(r.get("check")) for r in samples),
    )
    return best


def measure_throughput(
    pythons: dict[str, Path], case: str, settings: Settings
) -> dict[str, dict[str, Any]]:
    """``repeat`` samples per implementation, alternating (m, r, m, r, ...) so a burst of load
    hits both; a crash becomes an error entry for that implementation, not an abort."""
    samples: dict[str, list[dict[str, Any]]] = {impl: [] for impl in pythons}
    errors: dict[str, dict[str, Any]] = {}
    for _ in range(settings.repeat):
        for impl, python in pythons.items():
            if impl in errors:
                continue
            log(f"  {impl:<8} {case}")
            try:
                samples[impl].append(run_workload(python, impl, case, settings))
            except (BenchError, subprocess.TimeoutExpired) as exc:
                log(f"  ERROR: {exc}")
                errors[impl] = {"error": str(exc)}
    return {impl: errors.get(impl) or summarize_throughput(samples[impl]) for impl in pythons}


def measure_import(python: Path, impl: str, settings: Settings) -> dict[str, Any]:
    """Median in-child import time over fresh processes.

    The first process is dropped: it may compile .pyc files, which a user pays only once.
    """
    run_workload(python, impl, "import", settings)
    results = [run_workload(python, impl, "import", settings) for _ in range(settings.import_reps)]
    in_child = [float(r["import_seconds"]) for r in results]
    wall = [float(r["process_wall_seconds"]) for r in results]
    bare = bare_python_seconds(python, settings.import_reps)
    return {
        "value": statistics.median(in_child) * 1000.0,
        "import_seconds_all": in_child,
        "process_minus_bare_seconds": statistics.median(wall) - bare,
        "bare_python_seconds": bare,
        "check": True,
    }


def measure_rss(python: Path, impl: str, settings: Settings) -> dict[str, Any]:
    """Peak RSS of a child that imports the library and runs a small typical session."""
    result = run_workload(python, impl, "peak_rss", settings)
    result["value"] = float(result["peak_rss_mb"])
    return result


def measure_process(python: Path, impl: str, target: Target, settings: Settings) -> dict[str, Any]:
    """Measure the import or RSS line for one implementation; a crash becomes an error entry."""
    log(f"  {impl:<8} {target.case}")
    try:
        if target.kind == "import":
            return measure_import(python, impl, settings)
        return measure_rss(python, impl, settings)
    except (BenchError, subprocess.TimeoutExpired) as exc:
        log(f"  ERROR: {exc}")
        return {"error": str(exc)}


def collect_versions(pythons: dict[str, Path], settings: Settings) -> dict[str, dict[str, Any]]:
    """Python, library and SQLite versions as each interpreter sees them."""
    return {impl: run_workload(python, impl, "info", settings) for impl, python in pythons.items()}


# --------------------------------------------------------------------------- report


def ratio(target: Target, mlflow: float, runstack: float) -> float:
    """runstack's figure against MLflow's, oriented as its target is stated."""
    if target.kind == "import":
        return mlflow / runstack  # speed-up: MLflow time / runstack time
    return runstack / mlflow  # throughput ratio, or RSS fraction


def passes(target: Target, value: float) -> bool:
    """Whether the ratio clears the target (RSS: at most the bar; others: at least)."""
    return value <= target.threshold if target.kind == "rss" else value >= target.threshold


def fmt(value: float | None) -> str:
    """A figure with thousands separators and sensible precision."""
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 1000 else f"{value:,.1f}"


def build_rows(results: dict[str, dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per target with both figures, the ratio and the verdict."""
    rows = []
    for target in TARGETS:
        per_impl = {impl: results.get(impl, {}).get(target.case) for impl in IMPLS}
        values = {impl: (r or {}).get("value") for impl, r in per_impl.items()}
        checks_ok = all(
            r is None or "error" in r or r.get("check", False) for r in per_impl.values()
        )
        row: dict[str, Any] = {
            "case": target.case,
            "unit": target.unit,
            "target": target.label,
            **values,
        }
        errors = [impl for impl, r in per_impl.items() if r is not None and "error" in r]
        if errors:
            row["result"] = "ERROR (" + ", ".join(errors) + ")"
        elif values["mlflow"] is not None and values["runstack"] is not None:
            row["ratio"] = ratio(target, values["mlflow"], values["runstack"])
            ok = passes(target, row["ratio"]) and checks_ok
            row["result"] = "PASS" if ok else ("FAIL (check)" if not checks_ok else "FAIL")
        elif not checks_ok:
            row["result"] = "CHECK FAILED"
        rows.append(row)
    return rows


def render_table(rows: list[dict[str, Any]], impls: list[str]) -> str:
    """A plain-text table; with one implementation, its figures only."""
    both = len(impls) == 2
    notes = any(row.get("result") for row in rows)
    header = ["case", "unit", *impls]
    header += ["ratio", "target", "result"] if both else (["note"] if notes else [])
    body = []
    for row in rows:
        cells = [row["case"], row["unit"], *(fmt(row.get(impl)) for impl in impls)]
        if both:
            r = row.get("ratio")
            cells += ["-" if r is None else f"{r:,.2f}x", row["target"], row.get("result", "-")]
        elif notes:
            cells.append(row.get("result", ""))
        body.append(cells)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *body, strict=False)]
    numeric = {i for i, h in enumerate(header) if h in (*IMPLS, "ratio")}

    def line(cells: list[str]) -> str:
        return "  ".join(
            str(c).rjust(w) if i in numeric else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=False))
        )

    lines = [line(header), line(["-" * w for w in widths]), *(line(c) for c in body)]
    return "\n".join(text.rstrip() for text in lines)


def render_header(
    versions: dict[str, dict[str, Any]], settings: Settings, mode: str, load: list[float]
) -> str:
    """Versions and settings, so that a table can be compared with another one later."""
    parts = [f"bench_core ({mode}): runstack vs MLflow, embedded SQLite, fresh process per case"]
    for impl, info in versions.items():
        version, python, sqlite = info.get("impl_version"), info.get("python"), info.get("sqlite")
        parts.append(f"  {impl:<8} {version}  python {python}  sqlite {sqlite}")
    parts.append(
        f"  settings: >= {settings.seconds:g} s and >= {settings.min_iters} iterations"
        f" per throughput case, best of {settings.repeat} run(s);"
        f" import: median of {settings.import_reps} fresh processes"
    )
    parts.append(
        f"  machine: {os.cpu_count()} CPUs, 1-min load average {load[0]:.2f} before,"
        f" {load[1]:.2f} after (other work on the machine slows both sides unevenly)"
    )
    return "\n".join(parts)


FOOTNOTE = (
    "ratio: throughput lines runstack/MLflow; import MLflow time / runstack time; "
    "peak_rss runstack MB / MLflow MB."
)


# --------------------------------------------------------------------------- main


def log(message: str) -> None:
    """Progress goes to stderr so stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


def tail(text: str, lines: int = 25) -> str:
    """The last lines of a child's output, where its error is."""
    return "\n".join(text.strip().splitlines()[-lines:])


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description="Benchmark runstack against MLflow " + MLFLOW_VERSION
    )
    parser.add_argument("--quick", action="store_true", help="short smoke run (figures are rough)")
    parser.add_argument("--only", choices=IMPLS, help="measure one implementation, without ratios")
    parser.add_argument(
        "--repeat",
        type=int,
        help="samples per throughput case, best reported (default 3, --quick 1)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write every figure to PATH")
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def settings_for(args: argparse.Namespace) -> Settings:
    """Full run: >= 3 s per throughput case, best of 3 (this 2-core machine is shared and
    a single MLflow sample can be off by 3x); --quick: one short sample per case."""
    if args.quick:
        return Settings(seconds=0.3, min_iters=5, import_reps=3, repeat=args.repeat or 1)
    return Settings(seconds=3.0, min_iters=20, import_reps=7, repeat=args.repeat or 3)


def interpreters(only: str | None) -> dict[str, Path]:
    """The interpreter for each implementation measured, ready to use."""
    wanted = [only] if only else list(IMPLS)
    pythons: dict[str, Path] = {}
    if "mlflow" in wanted:
        pythons["mlflow"] = ensure_mlflow_venv()
    if "runstack" in wanted:
        runstack_python = Path(sys.executable)
        ensure_runstack_importable(runstack_python)
        pythons["runstack"] = runstack_python
    return pythons


def run_all(pythons: dict[str, Path], settings: Settings) -> dict[str, dict[str, dict[str, Any]]]:
    """Every case, implementations alternating within each case."""
    results: dict[str, dict[str, dict[str, Any]]] = {impl: {} for impl in pythons}
    for target in TARGETS:
        if target.kind == "throughput":
            for impl, result in measure_throughput(pythons, target.case, settings).items():
                results[impl][target.case] = result
            continue
        for impl, python in pythons.items():
            results[impl][target.case] = measure_process(python, impl, target, settings)
    return results


def main(argv: list[str]) -> int:
    """Measure, print the table, optionally write JSON; exit 1 if a target is missed."""
    args = parse_args(argv)
    settings = settings_for(args)
    try:
        pythons = interpreters(args.only)
        versions = collect_versions(pythons, settings)
    except (BenchError, subprocess.TimeoutExpired) as exc:
        log(f"bench_core: {exc}")
        return 2
    started = time.time()
    load_before = os.getloadavg()[0]
    results = run_all(pythons, settings)
    load = [load_before, os.getloadavg()[0]]
    rows = build_rows(results)
    mode = "quick" if args.quick else "full"
    print(render_header(versions, settings, mode, load))
    print()
    print(render_table(rows, list(pythons)))
    if len(pythons) == 2:
        print(FOOTNOTE)
    if args.json:
        payload = {
            "mode": mode,
            "started": started,
            "load_average_1min": load,
            "settings": asdict(settings),
            "versions": versions,
            "results": results,
            "rows": rows,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    failed = any(str(r.get("result", "")).startswith(("FAIL", "ERROR", "CHECK")) for r in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
