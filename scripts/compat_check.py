#!/usr/bin/env python3
"""Run MLflow scripts written by others with MLflow and with runstack, and compare.

Each script runs twice, each time in a fresh temporary working directory with no ``MLFLOW_*`` or
``RUNSTACK_*`` variable inherited: (a) with a Python that has MLflow installed, (b) with
``runstack run SCRIPT`` (or, with ``--style import``, a copy whose ``import mlflow`` lines are
rewritten to ``import runstack as mlflow``, run by plain Python). It prints one table row per
script: its result under each, and the first error line of the failing side.

The scripts themselves are not part of this repository (they are other people's code); the
manifest names them. docs/compatibility.md describes the manifest and how to use this.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

_IMPORT_STATEMENT = re.compile(r"^(\s*)import\s+([^#\n]+?)(\s*#.*)?$", re.MULTILINE)
_IMPORTED = re.compile(r"^mlflow(\.[\w.]+)?(?:\s+as\s+(\w+))?$")
_FROM_LINE = re.compile(r"^(\s*)from mlflow(\.[\w.]+)? import ", re.MULTILINE)


@dataclass
class Entry:
    """One script of the manifest."""

    script: str  # path relative to the scripts folder
    source: str = ""  # where it came from (repository and path)
    args: list[str] = field(default_factory=list)
    setup: list[str] = field(default_factory=list)  # scripts run first, same folder, same side
    dirs: list[str] = field(default_factory=list)  # folders to create in the working directory
    files: dict[str, str] = field(default_factory=dict)  # files to write there first
    note: str = ""


@dataclass
class Outcome:
    """What one side did with one script."""

    result: str  # "ok", "exit N", "timeout"
    seconds: float
    error: str  # first error line ("" when ok)


def read_manifest(path: Path) -> list[Entry]:
    """The manifest: a JSON list of objects with Entry's fields (``script`` required)."""
    raw = json.loads(path.read_text())
    if not isinstance(raw, list):
        raise SystemExit(f"{path}: the manifest must be a JSON list of objects")
    return [Entry(**item) for item in raw]


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without MLflow's or runstack's variables."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_", "RUNSTACK_")) and k not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    env["PYTHONUNBUFFERED"] = "1"
    env["MPLBACKEND"] = "Agg"
    env.update(extra or {})
    return env


def _rewrite_import_item(item: str) -> str:
    """One name of an ``import`` statement: ``mlflow[.sub] [as x]`` becomes runstack's."""
    found = _IMPORTED.match(item.strip())
    if found is None:
        return item.strip()
    sub, alias = found.group(1), found.group(2)
    if alias:
        return f"runstack{sub or ''} as {alias}"
    # `import mlflow.sub` binds `mlflow` and loads the submodule: do both.
    return "runstack as mlflow" + (f", runstack{sub}" if sub else "")


def rewrite_imports(text: str) -> str:
    """``import mlflow`` -> ``import runstack as mlflow`` (in any ``import a, b`` list, with
    ``as``, and submodules) and ``from mlflow.x import`` -> ``from runstack.x import``."""

    def statement(found: re.Match[str]) -> str:
        items = found.group(2).split(",")
        if not any(_IMPORTED.match(item.strip()) for item in items):
            return found.group(0)
        names = ", ".join(_rewrite_import_item(item) for item in items)
        return f"{found.group(1)}import {names}{found.group(3) or ''}"

    text = _IMPORT_STATEMENT.sub(statement, text)
    return _FROM_LINE.sub(lambda m: f"{m.group(1)}from runstack{m.group(2) or ''} import ", text)


def first_error(stderr: str) -> str:
    """The line that says what went wrong: the exception line of the last traceback."""
    lines = [line.rstrip() for line in stderr.splitlines() if line.strip()]
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].startswith("Traceback"):
            tail = [
                line for line in lines[index + 1 :] if not line.startswith((" ", "\t", "^", "~"))
            ]
            if tail:
                return tail[0][:300]
    errors = [line for line in lines if re.search(r"(Error|Exception)\b", line)]
    return (errors[-1] if errors else (lines[-1] if lines else ""))[:300]


def prepare(entry: Entry, scripts: Path, workdir: Path, style: str) -> Path:
    """Copy the script's folder into ``workdir/code`` (rewritten for ``--style import``) and
    create the entry's folders and files in ``workdir/run``; return the run directory."""
    code = workdir / "code"
    shutil.copytree((scripts / entry.script).parent, code)
    if style == "import":
        for path in code.rglob("*.py"):
            path.write_text(rewrite_imports(path.read_text()))
    run_dir = workdir / "run"
    run_dir.mkdir()
    for folder in entry.dirs:
        (run_dir / folder).mkdir(parents=True, exist_ok=True)
    for name, content in entry.files.items():
        target = run_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    return run_dir


def command(side: str, style: str, python: str, runstack: str, script: Path) -> list[str]:
    """The command line that runs ``script`` on one side."""
    if side == "runstack" and style == "alias":
        return [runstack, "run", str(script)]
    return [python, str(script)]


def run_one(
    entry: Entry,
    by_name: dict[str, Entry],
    scripts: Path,
    side: str,
    args: argparse.Namespace,
) -> Outcome:
    """Run the entry's setup scripts and then the entry itself on one side."""
    python = args.mlflow_python if side == "mlflow" else args.runstack_python
    style = args.style if side == "runstack" else "alias"
    with tempfile.TemporaryDirectory(prefix=f"compat-{side}-") as tmp:
        run_dir = prepare(entry, scripts, Path(tmp), style)
        code = Path(tmp) / "code"
        folder = (scripts / entry.script).parent
        # A setup script need not be an entry of its own (then it runs with no arguments).
        steps = [by_name.get(name, Entry(script=name)) for name in entry.setup] + [entry]
        started = time.monotonic()
        for step in steps:
            script = code / (scripts / step.script).relative_to(folder)
            argv = command(side, style, python, args.runstack, script) + step.args
            try:
                done = subprocess.run(
                    argv,
                    cwd=run_dir,
                    env=clean_env(),
                    capture_output=True,
                    text=True,
                    timeout=args.timeout,
                    stdin=subprocess.DEVNULL,
                )
            except subprocess.TimeoutExpired:
                return Outcome("timeout", time.monotonic() - started, f"over {args.timeout} s")
            if args.verbose:
                print(f"--- {side} {step.script}\n{done.stdout}{done.stderr}", file=sys.stderr)
            if done.returncode != 0:
                where = "" if step is entry else f"(setup {step.script}) "
                return Outcome(
                    f"exit {done.returncode}",
                    time.monotonic() - started,
                    where + first_error(done.stderr),
                )
        return Outcome("ok", time.monotonic() - started, "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scripts", type=Path, help="folder holding the scripts")
    parser.add_argument(
        "--manifest", type=Path, help="JSON manifest (default: SCRIPTS/manifest.json)"
    )
    parser.add_argument("--mlflow-python", default="", help="Python with MLflow installed")
    parser.add_argument(
        "--runstack-python", default=sys.executable, help="Python with runstack installed"
    )
    parser.add_argument(
        "--runstack", default="", help="the runstack command (default: beside --runstack-python)"
    )
    parser.add_argument(
        "--style",
        choices=["alias", "import"],
        default="alias",
        help="alias: `runstack run SCRIPT`; import: a copy with `import runstack as mlflow`",
    )
    parser.add_argument("--only", nargs="*", default=[], help="run only these scripts")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per script")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--verbose", action="store_true", help="print each script's output")
    args = parser.parse_args()
    if not args.runstack:
        args.runstack = str(Path(args.runstack_python).parent / "runstack")
    entries = read_manifest(args.manifest or args.scripts / "manifest.json")
    by_name = {e.script: e for e in entries}
    chosen = [e for e in entries if not args.only or e.script in args.only]
    sides = (["mlflow"] if args.mlflow_python else []) + ["runstack"]
    rows = []
    print(f"| script | {' | '.join(sides)} | first error line |")
    print(f"| --- | {' | '.join('---' for _ in sides)} | --- |")
    for entry in chosen:
        outcomes = {side: run_one(entry, by_name, args.scripts, side, args) for side in sides}
        # runstack's error when it failed (that is what needs looking at), else MLflow's.
        error = next((o.error for o in reversed(outcomes.values()) if o.result != "ok"), "")
        cells = " | ".join(outcomes[s].result for s in sides)
        print(f"| {entry.script} | {cells} | {error.replace('|', '/')} |", flush=True)
        rows.append(
            {
                "script": entry.script,
                "source": entry.source,
                "style": args.style,
                **{side: asdict(outcome) for side, outcome in outcomes.items()},
            }
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    passed = sum(row["runstack"]["result"] == "ok" for row in rows)
    print(f"\nrunstack ({args.style}): {passed} of {len(rows)} ok", end="")
    if args.mlflow_python:
        print(f"; MLflow: {sum(row['mlflow']['result'] == 'ok' for row in rows)} ok", end="")
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
