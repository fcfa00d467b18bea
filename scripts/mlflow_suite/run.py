"""Run MLflow's own tracking-server tests against ``runstack server`` and count the results.

    python scripts/mlflow_suite/run.py /path/to/mlflow \\
        --python /path/to/venv-with-mlflow/bin/python [--stores sqlite,postgresql] \\
        [--artifacts proxied,direct] [-k EXPR] [tests/tracking/test_rest_tracking.py ...]

``/path/to/mlflow`` is a checkout of MLflow (or any folder holding its ``tests`` package);
``--python`` must have ``mlflow`` (the version under test, 3.17.x), ``pytest`` and what the
tests import (``psycopg`` for PostgreSQL). The tests run unchanged; ``runstack_plugin.py``
swaps their server fixtures. Every failure is looked up in ``classification.py``; the exit
status is 1 when a failure is not a known difference. Not part of runstack's own test run.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from classification import UNEXPECTED, classify

HERE = Path(__file__).resolve().parent
DEFAULT_FILES = ("tests/tracking/test_rest_tracking.py", "tests/tracking/test_mlflow_artifacts.py")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mlflow", type=Path, help="a folder holding MLflow's tests package")
    parser.add_argument("files", nargs="*", default=list(DEFAULT_FILES))
    parser.add_argument("--python", default=sys.executable, help="a Python with mlflow, pytest")
    parser.add_argument(
        "--runstack",
        default=str(Path(sys.executable).with_name("runstack")),
        help="the runstack executable [default: beside this Python]",
    )
    parser.add_argument("--stores", default="sqlite", help="sqlite, postgresql or both")
    parser.add_argument("--artifacts", default="proxied", help="proxied, direct or both")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("-k", dest="keyword", default=None, help="pytest's -k expression")
    return parser.parse_args()


def _run_pytest(args: argparse.Namespace, report: Path) -> int:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(args.mlflow.resolve())])
    runstack = Path(args.runstack)
    env["RUNSTACK_SUITE_BIN"] = str(runstack.absolute()) if runstack.parent.name else args.runstack
    env["RUNSTACK_SUITE_STORES"] = args.stores
    env["RUNSTACK_SUITE_ARTIFACTS"] = args.artifacts
    env["RUNSTACK_SUITE_PG"] = args.pg
    cmd = [args.python, "-m", "pytest", "-p", "runstack_plugin", "-p", "no:cacheprovider"]
    cmd += ["-q", "--tb=line", "-W", "ignore::DeprecationWarning", f"--junitxml={report}"]
    cmd += ["--rootdir", str(args.mlflow.resolve()), *args.files]
    if args.keyword:
        cmd += ["-k", args.keyword]
    return subprocess.run(cmd, cwd=args.mlflow, env=env, check=False).returncode


def _outcomes(report: Path) -> list[tuple[str, str, str]]:
    """(file stem, test name, outcome) of every test case in a JUnit report."""
    results = []
    for case in ET.parse(report).iter("testcase"):
        stem = case.get("classname", "").rsplit(".", 1)[-1]
        name = case.get("name", "")
        tags = {child.tag for child in case}
        if tags & {"failure", "error"}:
            outcome = "failed"
        elif "skipped" in tags:
            outcome = "skipped"
        else:
            outcome = "passed"
        results.append((stem, name, outcome))
    return results


def main() -> int:
    args = _arguments()
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.xml"
        _run_pytest(args, report)
        if not report.exists():
            print("pytest wrote no report (see its output above)", file=sys.stderr)
            return 2
        results = _outcomes(report)
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    failures = collections.defaultdict(list)
    for stem, name, outcome in results:
        counts[stem, outcome] += 1
        if outcome == "failed":
            category, reason = classify(name)
            failures[category, reason].append(f"{stem}::{name}")
    print("\n== MLflow's tests against runstack server ==")
    for stem in sorted({stem for stem, _ in counts}):
        line = ", ".join(f"{counts[stem, o]} {o}" for o in ("passed", "failed", "skipped"))
        print(f"{stem}: {line}")
    total = collections.Counter()
    for (_, outcome), n in counts.items():
        total[outcome] += n
    print(f"total: {total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped")
    for (category, reason), names in sorted(failures.items()):
        print(f"\n[{category}] {reason}: {len(names)}")
        for name in names:
            print(f"    {name}")
    unexpected = sum(len(n) for (c, _), n in failures.items() if c == UNEXPECTED)
    print(f"\nunexpected failures: {unexpected}")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
