"""Artifact benchmarks: runstack against MLflow 3.17.2 (and ``cp``), in the same run.

    .venv/bin/python benchmarks/bench_artifacts.py [--quick] [--repeat N] [--json PATH]

Each line is a ``Line`` in ``LINES``: a name, a unit, a target and a ``measure`` function that
returns the figures of each side. To add lines (the tracking-server lines, for example),
write a ``measure`` function and append a ``Line``; the table, the JSON and the exit status
follow. MLflow runs in ``benchmarks/.venv-mlflow`` (made by ``bench_core.py``'s helper),
runstack under this interpreter; every sample is a fresh process (``artifact_workload.py``)
with a fresh SQLite store and artifact folder under ``benchmarks/.work``. See README.md.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artifact_server_bench import SERVER_LINES
from bench_core import (
    MLFLOW_VERSION,
    WORK_ROOT,
    BenchError,
    child_env,
    ensure_mlflow_venv,
    ensure_runstack_importable,
    log,
    parse_last_json_line,
    tail,
)

HERE = Path(__file__).resolve().parent
WORKLOAD = HERE / "artifact_workload.py"
IMPLS = ("mlflow", "runstack")
CHILD_TIMEOUT = 900.0


@dataclass(frozen=True)
class Settings:
    repeat: int
    big_file_mb: int
    small_files: int
    small_file_bytes: int = 1024
    memory_mb: int = 5120  # the file sent up and down through a server for peak memory


@dataclass
class Context:
    """What every line may use: the interpreters, the settings and shared input data."""

    pythons: dict[str, Path]
    settings: Settings
    scratch: Path
    _made: dict[str, Path] = field(default_factory=dict)
    samples: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # case -> side -> s
    # What the samples of the current line wrote, removed once the line is done: deleting
    # 10,000 files makes the next thousands of file creations on ext4 several times slower
    # for a few seconds, which would fall on whichever side happens to come next.
    leftovers: list[Path] = field(default_factory=list)

    def remove_leftovers(self) -> None:
        for path in self.leftovers:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        self.leftovers.clear()

    def big_file(self) -> Path:
        """One file of ``big_file_mb`` MB (incompressible), made once."""
        if "big" not in self._made:
            path = self.scratch / "big.bin"
            block = os.urandom(64 << 20)
            remaining = self.settings.big_file_mb << 20
            with open(path, "wb") as out:
                while remaining:
                    remaining -= out.write(block[: min(len(block), remaining)])
            self._made["big"] = path
        return self._made["big"]

    def many_files(self) -> Path:
        """A folder of ``small_files`` files of ``small_file_bytes`` bytes, made once."""
        if "many" not in self._made:
            folder = self.scratch / "many"
            folder.mkdir()
            payload = os.urandom(self.settings.small_file_bytes)
            for i in range(self.settings.small_files):
                (folder / f"f{i:05d}.bin").write_bytes(payload)
            self._made["many"] = folder
        return self._made["many"]


@dataclass(frozen=True)
class Line:
    name: str
    unit: str
    target: str
    # -> {"cp"|"mlflow"|"runstack": figure or None, "ratio": float, "pass": bool, ...}
    measure: Callable[[Context], dict[str, Any]]


# --------------------------------------------------------------------------- sampling


def run_case(ctx: Context, impl: str, case: str, source: Path) -> dict[str, Any]:
    """One fresh process running one case; its JSON result."""
    workdir = Path(tempfile.mkdtemp(prefix=f"{impl}-{case}-", dir=WORK_ROOT))
    os.sync()  # the previous sample's dirty pages must not be written during this one
    cmd = [str(ctx.pythons[impl]), str(WORKLOAD), "--impl", impl, "--case", case,
           "--dir", str(workdir), "--source", str(source)]  # fmt: skip
    ctx.leftovers.append(workdir)
    proc = subprocess.run(
        cmd, cwd=workdir, env=child_env(), capture_output=True, text=True,
        timeout=CHILD_TIMEOUT, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise BenchError(f"{impl} {case}: exit {proc.returncode}\n{tail(proc.stderr)}")
    result = parse_last_json_line(proc.stdout, f"{impl} {case}")
    if not result.get("check"):
        raise BenchError(f"{impl} {case}: what was logged is not what is stored")
    return result


def sample_case(ctx: Context, impl: str, case: str, source: Path) -> float:
    log(f"  {impl:<8} {case}")
    return float(run_case(ctx, impl, case, source)["seconds"])


def sample_cp(ctx: Context, source: Path) -> float:
    """One ``cp`` (``cp -r`` for a folder) to a fresh name on the same filesystem: what the
    kernel and the file system cost, with no Python and no tracking."""
    target = WORK_ROOT / f"cp-{os.getpid()}-{len(ctx.leftovers)}"
    ctx.leftovers.append(target)
    os.sync()
    log("  cp -r" if source.is_dir() else "  cp")
    start = time.perf_counter()
    subprocess.run(["cp", "-r", str(source), str(target)], check=True)
    return time.perf_counter() - start


def best_seconds(
    ctx: Context, case: str, source: Path, with_cp: bool = False
) -> dict[str, float | None]:
    """The fastest of ``repeat`` samples per side, the sides alternating within each round
    so that a burst of load elsewhere hits all of them alike (other work only slows a
    sample down). Sides not measured are None."""
    sides: dict[str, Callable[[], float]] = {}
    if with_cp:
        sides["cp"] = lambda: sample_cp(ctx, source)
    for impl in IMPLS:
        if impl in ctx.pythons:
            sides[impl] = functools.partial(sample_case, ctx, impl, case, source)
    samples: dict[str, list[float]] = {name: [] for name in sides}
    try:
        for _ in range(ctx.settings.repeat):
            for name, sample in sides.items():
                samples[name].append(sample())
    finally:
        ctx.remove_leftovers()
    best: dict[str, float | None] = {impl: None for impl in IMPLS}
    best.update({name: min(times) for name, times in samples.items()})
    ctx.samples[case] = samples  # every sample, for the JSON report
    return best


# --------------------------------------------------------------------------- lines


def _per_second(amount: float, seconds: float | None) -> float | None:
    return None if seconds is None else amount / seconds


def measure_log_artifact(ctx: Context) -> dict[str, Any]:
    source = ctx.big_file()
    size_mb = source.stat().st_size / (1 << 20)
    seconds = best_seconds(ctx, "log_artifact", source, with_cp=True)
    figures: dict[str, Any] = {side: _per_second(size_mb, s) for side, s in seconds.items()}
    figures["ratio"] = figures["runstack"] / figures["cp"]
    figures["ratio_label"] = "of cp"
    figures["pass"] = figures["ratio"] >= 0.80
    if figures["mlflow"]:
        figures["vs_mlflow"] = figures["runstack"] / figures["mlflow"]
    return figures


def measure_log_artifacts(ctx: Context) -> dict[str, Any]:
    source = ctx.many_files()
    count = ctx.settings.small_files
    seconds = best_seconds(ctx, "log_artifacts", source, with_cp=True)
    figures: dict[str, Any] = {side: _per_second(count, s) for side, s in seconds.items()}
    # The file system's own floor: one more line of context, not the target's baseline.
    figures["reference"] = {"name": "cp -r", "figure": figures.pop("cp")}
    if figures["mlflow"]:
        figures["ratio"] = figures["runstack"] / figures["mlflow"]
        figures["ratio_label"] = "x MLflow"
        figures["pass"] = figures["ratio"] >= 10
    return figures


def measure_list_artifacts(ctx: Context) -> dict[str, Any]:
    source = ctx.many_files()
    seconds = best_seconds(ctx, "list_artifacts", source)
    figures: dict[str, Any] = {side: None if s is None else s * 1000 for side, s in seconds.items()}
    figures["pass"] = figures["runstack"] <= 100
    if figures["mlflow"]:
        figures["ratio"] = figures["mlflow"] / figures["runstack"]
        figures["ratio_label"] = "x faster"
    return figures


LINES: list[Line] = [
    Line("log_artifact (1 GB file, local)", "MB/s", ">= 80% of cp", measure_log_artifact),
    Line("log_artifacts (10,000 x 1 KB, local)", "files/s", ">= 10x MLflow", measure_log_artifacts),
    Line("list_artifacts (10,000 files, local)", "ms", "<= 100 ms", measure_list_artifacts),
]
# Through a tracking server (runstack server vs mlflow server): artifact_server_bench.py.
LINES += [Line(*line) for line in SERVER_LINES]


# --------------------------------------------------------------------------- report


def fmt(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def describe_reference(row: dict[str, Any]) -> str:
    """A second yardstick for a line, e.g. ``cp -r 9,000: runstack 1.20 of it``."""
    reference = row.get("reference")
    if not reference or not reference.get("figure") or not row.get("runstack"):
        return ""
    share = row["runstack"] / reference["figure"]
    return f"{reference['name']} {fmt(reference['figure'])}: runstack {share:.2f} of it"


def render(rows: list[dict[str, Any]]) -> str:
    header = ["line", "unit", "cp", "mlflow", "runstack", "ratio", "target", "result",
              "reference"]  # fmt: skip
    body = []
    for row in rows:
        ratio = row.get("ratio")
        body.append([
            row["line"], row["unit"], fmt(row.get("cp")), fmt(row.get("mlflow")),
            fmt(row.get("runstack")),
            "-" if ratio is None else f"{ratio:,.2f} {row.get('ratio_label', '')}".strip(),
            row["target"], row["result"], describe_reference(row),
        ])  # fmt: skip
    widths = [max(len(str(c)) for c in col) for col in zip(header, *body, strict=False)]
    lines = [header, ["-" * w for w in widths], *body]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)).rstrip()
                     for r in lines)  # fmt: skip


def run_lines(ctx: Context, names: list[str] | None) -> list[dict[str, Any]]:
    rows = []
    for line in LINES:
        if names and not any(n in line.name for n in names):
            continue
        log(line.name)
        row: dict[str, Any] = {"line": line.name, "unit": line.unit, "target": line.target}
        try:
            figures = line.measure(ctx)
        except (BenchError, subprocess.TimeoutExpired) as error:
            log(f"  ERROR: {error}")
            row["result"] = "ERROR"
            row["error"] = str(error)
            rows.append(row)
            continue
        row.update(figures)
        row["result"] = "-" if "pass" not in figures else "PASS" if figures["pass"] else "FAIL"
        rows.append(row)
    return rows


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=f"Artifact benchmarks vs MLflow {MLFLOW_VERSION}")
    parser.add_argument("--quick", action="store_true", help="100 MB and 1,000 files, 1 sample")
    parser.add_argument("--repeat", type=int, help="samples per side, best kept (default 3)")
    parser.add_argument("--only", choices=IMPLS, help="measure one implementation")
    parser.add_argument("--lines", nargs="*", help="only lines whose name contains one of these")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    quick = args.quick
    settings = Settings(
        repeat=args.repeat or (1 if quick else 3),
        big_file_mb=100 if quick else 1024,
        small_files=1000 if quick else 10_000,
        memory_mb=200 if quick else 5120,
    )
    try:
        pythons: dict[str, Path] = {}
        if args.only in (None, "mlflow"):
            pythons["mlflow"] = ensure_mlflow_venv()
        if args.only in (None, "runstack"):
            ensure_runstack_importable(Path(sys.executable))
            pythons["runstack"] = Path(sys.executable)
    except (BenchError, subprocess.TimeoutExpired) as error:
        log(f"bench_artifacts: {error}")
        return 2
    WORK_ROOT.mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="artifacts-input-", dir=WORK_ROOT))
    load_before = os.getloadavg()[0]
    ctx = Context(pythons, settings, scratch)
    try:
        rows = run_lines(ctx, args.lines)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    load = [load_before, os.getloadavg()[0]]
    print(
        f"bench_artifacts ({'quick' if quick else 'full'}): runstack vs MLflow {MLFLOW_VERSION}, "
        f"best of {settings.repeat}; {os.cpu_count()} CPUs, load {load[0]:.2f} -> {load[1]:.2f}"
    )
    print(render(rows))
    if args.json:
        payload = {
            "settings": settings.__dict__,
            "load_average_1min": load,
            "rows": rows,
            "samples_seconds": ctx.samples,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 1 if any(r["result"] in ("FAIL", "ERROR") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
