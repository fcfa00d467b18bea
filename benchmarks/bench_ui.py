"""The web UI in a real browser (Chromium through Playwright), timed as a user sees it.

Usage::

    .venv/bin/python benchmarks/bench_ui.py [--runs N] [--points N] [--keys N]
        [--compare-runs N] [--compare-points N] [--reps N]
        [--mlflow-python PATH] [--mlflow-runs N] [--mlflow-points N] [--skip-scale] [--json PATH]

Part 1, runstack at scale (issue 11's targets): the data of ``bench_ui_api.build`` (an
experiment of ``--runs`` runs, a ``--points``-point metric, a run of ``--keys`` metric keys, and
``--compare-runs`` runs of ``--compare-points`` points), served by ``runstack server`` in its own
process over SQLite. Cases: the experiment's first page of runs visible after navigation; the
same sorted by a metric and filtered (from the loaded page); the 1,000,000-point chart painted
(and the bytes of chart data the page fetched); the many-key run's page usable (metrics table
and first chart painted); the comparison's first chart painted.

Part 2, against MLflow 3.17.2's UI (when ``--mlflow-python`` names an interpreter with the full
``mlflow`` package, which ships the UI; ``mlflow-skinny`` does not): the same small data set is
logged through each project's own fluent API (``import mlflow`` / ``import runstack as mlflow``)
into its own SQLite file; each is served by its own server (``mlflow server`` /
``runstack server``); the same browser script measures the first runs visible on the experiment
page and the first metric chart painted on a run's page.

Timing: milliseconds from the start of the navigation (``performance.now()`` in the page) to the
first animation frame where the condition holds; "painted" means the chart's canvas (or, for
MLflow's plotly charts, its SVG line) really has the line in it. Static files are cached after
a first, untimed visit, as for anyone who has opened the UI before. Median of ``--reps``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# The browser and the server child come from tests/browser_kit.py, the one home of both for
# the tests, the benchmarks and ui_screenshots.py (it imports nothing of pytest).
sys.path.insert(0, str(HERE.parent / "tests"))

from bench_core import WORK_ROOT, log  # noqa: E402

import browser_kit  # noqa: E402
from browser_kit import CHROMIUM, free_port  # noqa: E402

# JavaScript conditions, each evaluated once per animation frame.
RUNSTACK_RUNS_VISIBLE = """() => {
    const wrap = document.querySelector('.table-wrap.runs');
    return !!wrap && wrap.dataset.state === 'ready' &&
        document.querySelectorAll('table.runs-table tbody tr').length > 0;
}"""
CANVAS_PAINTED = """(selector) => {
    for (const canvas of document.querySelectorAll(selector)) {
        if (!canvas.width) continue;
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 0; i < data.length; i += 4) {
            const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
            if (a > 150 && Math.max(r, g, b) - Math.min(r, g, b) > 60) return true;
        }
    }
    return false;
}"""
MLFLOW_RUNS_VISIBLE = """(name) => document.body.innerText.includes(name)"""
MLFLOW_CHART_PAINTED = """() => {
    for (const path of document.querySelectorAll('.js-plotly-plot .scatterlayer path.js-line')) {
        if ((path.getAttribute('d') || '').length > 40) return true;
    }
    for (const canvas of document.querySelectorAll('canvas')) {
        if (!canvas.width || canvas.width < 100) continue;
        try {
            const ctx = canvas.getContext('2d');
            const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
            for (let i = 0; i < data.length; i += 4) {
                const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
                if (a > 150 && Math.max(r, g, b) - Math.min(r, g, b) > 60) return true;
            }
        } catch (e) {}
    }
    return false;
}"""
# Poll a condition every animation frame; resolve with performance.now() when it holds.
# (The condition is spliced in as source: the page's CSP rightly forbids eval.)
WAIT_JS = """async ([arg, limit]) => {
    const test = CONDITION;
    const start = performance.now();
    while (!test(arg)) {
        if (performance.now() - start > limit) return -1;
        await new Promise((resolve) => requestAnimationFrame(resolve));
    }
    return performance.now();
}"""
# The same after an in-page change: time from the change, not from the navigation.
CHANGE_JS = """async ([hash, arg, limit]) => {
    const test = CONDITION;
    const wrap = document.querySelector('.table-wrap.runs');
    const before = Number(wrap.dataset.loads || 0);
    const start = performance.now();
    location.hash = hash;
    while (Number(wrap.dataset.loads || 0) <= before || !test(arg)) {
        if (performance.now() - start > limit) return -1;
        await new Promise((resolve) => requestAnimationFrame(resolve));
    }
    return performance.now() - start;
}"""
SERIES_BYTES_JS = """() => performance.getEntriesByType('resource')
    .filter((e) => e.name.includes('/metrics/series'))
    .reduce((sum, e) => sum + (e.encodedBodySize || e.transferSize || 0), 0)"""

MLFLOW_LOGGER = """
import sys, time
module, uri, runs, points = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
mlflow = __import__(module)
from mlflow.entities import Metric
mlflow.set_tracking_uri(uri)
# MLflow's UI shows the runs table (not its GenAI overview) for this kind of experiment.
kind = {"mlflow.experimentKind": "custom_model_development"}
exp = mlflow.create_experiment("ui-compare", tags=kind)
client = mlflow.MlflowClient() if module == "mlflow" else mlflow.TrackingClient(uri)
ids = []
for i in range(runs):
    with mlflow.start_run(experiment_id=exp, run_name=f"run-{i:05d}") as run:
        mlflow.log_params({"lr": 10 ** -(i % 4), "batch": 32 * (1 + i % 3), "opt": "adam"})
        mlflow.log_metrics({"loss": 1.0 / (1 + i), "acc": (i % 100) / 100})
        ids.append(run.info.run_id)
with mlflow.start_run(experiment_id=exp, run_name="long-run") as run:
    long_id = run.info.run_id
    now = int(time.time() * 1000)
    for start in range(0, points, 1000):
        batch = [Metric("loss", 2.0 / (1 + s / 500) + (s % 7) * 0.01, now + s, s)
                 for s in range(start, min(points, start + 1000))]
        client.log_batch(long_id, metrics=batch)
print("EXP", exp)
print("LONG", long_id)
"""


SERVER_START_S = 120  # a cold interpreter on a busy machine, MLflow's server above all


def server_env() -> dict[str, str]:
    """This environment without the variables that would point a server elsewhere."""
    env = dict(os.environ)
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        env.pop(name, None)
    return env


def serving(command: list[str], port: int) -> contextlib.AbstractContextManager[str]:
    """A server process on 127.0.0.1:port until the block ends; yields its URL."""
    return browser_kit.serving(command, port, server_env(), SERVER_START_S)


def runstack_server(uri: str) -> contextlib.AbstractContextManager[str]:
    return browser_kit.runstack_server(uri, env=server_env(), start_timeout_s=SERVER_START_S)


class Browser:
    """One Chromium page; ``visit`` times a navigation until a condition holds."""

    def __init__(self, playwright: Any) -> None:
        self.browser = browser_kit.launch(playwright)
        self.page = self.browser.new_page(viewport={"width": 1280, "height": 900})

    def visit(self, url: str, condition: str, arg: Any = None, limit_ms: int = 60_000) -> float:
        self.page.goto("about:blank")
        self.page.goto(url, wait_until="commit")
        at: float = self.page.evaluate(WAIT_JS.replace("CONDITION", condition), [arg, limit_ms])
        if at < 0:
            raise TimeoutError(f"{url}: condition not met in {limit_ms} ms")
        return at

    def change(self, hash_: str, condition: str, arg: Any = None) -> float:
        """Milliseconds from an in-page change of the URL until the table has loaded again."""
        took: float = self.page.evaluate(
            CHANGE_JS.replace("CONDITION", condition), [hash_, arg, 60_000]
        )
        if took < 0:
            raise TimeoutError(f"{hash_}: condition not met")
        return took

    def close(self) -> None:
        self.browser.close()


def timed(reps: int, once: Any) -> float:
    once()  # untimed: fills the cache with the static files, warms the server
    return statistics.median(once() for _ in range(reps))


def scale_part(args: argparse.Namespace, workdir: Path, browser: Browser) -> list[dict[str, Any]]:
    from bench_ui_api import build

    path = workdir / "scale.db"
    uri = f"sqlite:///{path}"
    data = build(uri, args, None, path)
    exp = data["experiment_id"]
    results = []

    def add(case: str, ms: float, target: float, note: str = "") -> None:
        results.append({"case": case, "ms": ms, "target_ms": target, "note": note})
        log(f"  {case}: {ms:.0f} ms {note}")

    with runstack_server(uri) as url:
        runs_url = f"{url}/#/experiments/{exp}"
        add(
            f"{args.runs:,} runs: first page visible",
            timed(args.reps, lambda: browser.visit(runs_url, RUNSTACK_RUNS_VISIBLE)),
            1000,
        )

        def sorted_or_filtered(fragment: str) -> float:
            browser.visit(runs_url, RUNSTACK_RUNS_VISIBLE)
            return browser.change(f"/experiments/{exp}?{fragment}", RUNSTACK_RUNS_VISIBLE)

        add(
            "  same, sort by a metric",
            timed(args.reps, lambda: sorted_or_filtered("order=metrics.%60m0%60+DESC&col=m:m0")),
            1000,
        )
        add(
            "  same, apply a filter",
            timed(
                args.reps,
                lambda: sorted_or_filtered("filter=params.p2+%3D+%27c42%27+and+metrics.m1+%3E+0.5"),
            ),
            1000,
        )
        long_url = f"{url}/#/runs/{data['long_run']}"
        selector = 'figure[data-key="loss"] canvas'
        add(
            f"{args.points:,}-point metric: chart painted",
            timed(args.reps, lambda: browser.visit(long_url, CANVAS_PAINTED, selector)),
            1000,
        )
        sent = browser.page.evaluate(SERIES_BYTES_JS)
        results[-1]["series_bytes"] = sent
        results[-1]["note"] = f"{sent / 1000:.0f} KB of chart data (target <= 200 KB)"
        wide_url = f"{url}/#/runs/{data['wide_run']}"
        add(
            f"run with {args.keys:,} metric keys: usable (table, first chart)",
            timed(args.reps, lambda: browser.visit(wide_url, CANVAS_PAINTED, "figure canvas")),
            1000,
        )
        compare_url = f"{url}/#/compare?exp={exp}&runs={','.join(data['compared'])}"
        add(
            f"compare {args.compare_runs} runs x {args.compare_points:,} points: chart painted",
            timed(args.reps, lambda: browser.visit(compare_url, CANVAS_PAINTED, "figure canvas")),
            2000,
        )
    return results


def log_with(python: str, module: str, uri: str, runs: int, points: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "RUNSTACK_"))}
    out = subprocess.run(
        [python, "-c", textwrap.dedent(MLFLOW_LOGGER), module, uri, str(runs), str(points)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    values = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    return {"experiment": values["EXP"].strip(), "long": values["LONG"].strip()}


def one_ui(
    args: argparse.Namespace, workdir: Path, browser: Browser, name: str, python: str, module: str
) -> dict[str, Any]:
    """Log the small data set with ``module`` under ``python``, serve it, time the two pages."""
    uri = f"sqlite:///{workdir}/{module}-small.db"
    log(f"logging {args.mlflow_runs} runs and a {args.mlflow_points:,}-point metric: {name}")
    ids = log_with(python, module, uri, args.mlflow_runs, args.mlflow_points)
    port = free_port()
    if module == "mlflow":
        exe = str(Path(python).with_name("mlflow"))
        command = [exe, "server", "--backend-store-uri", uri, "--host", "127.0.0.1"]
        command += ["--port", str(port), "--workers", "1"]
        command += ["--default-artifact-root", str(workdir / "mlartifacts")]
        server = serving(command, port)
        runs_check, runs_arg = MLFLOW_RUNS_VISIBLE, f"run-{args.mlflow_runs - 1:05d}"
        chart_path = f"/#/experiments/{ids['experiment']}/runs/{ids['long']}/model-metrics"
        chart_check, chart_arg = MLFLOW_CHART_PAINTED, None
    else:
        server = runstack_server(uri)
        runs_check, runs_arg = RUNSTACK_RUNS_VISIBLE, None
        chart_path = f"/#/runs/{ids['long']}"
        chart_check, chart_arg = CANVAS_PAINTED, 'figure[data-key="loss"] canvas'
    with server as url:
        exp_url = f"{url}/#/experiments/{ids['experiment']}" + (
            "/runs" if module == "mlflow" else ""
        )
        runs_ms = timed(args.reps, lambda: browser.visit(exp_url, runs_check, runs_arg))
        chart_ms = timed(args.reps, lambda: browser.visit(url + chart_path, chart_check, chart_arg))
    log(f"  {name}: runs visible {runs_ms:.0f} ms, chart painted {chart_ms:.0f} ms")
    return {"ui": name, "runs_visible_ms": runs_ms, "chart_painted_ms": chart_ms}


def mlflow_part(args: argparse.Namespace, workdir: Path, browser: Browser) -> list[dict[str, Any]]:
    return [
        one_ui(args, workdir, browser, "MLflow 3.17.2", args.mlflow_python, "mlflow"),
        one_ui(args, workdir, browser, "runstack", sys.executable, "runstack"),
    ]


def report(
    scale: list[dict[str, Any]], versus: list[dict[str, Any]], args: argparse.Namespace
) -> str:
    lines = []
    if scale:
        lines += [
            f"runstack web UI in Chromium, SQLite, `runstack server` (1 worker); median of "
            f"{args.reps} after 1 untimed visit.",
            "",
            f"| {'case':<62} | {'ms':>6} | target | |",
            f"|{'-' * 64}|{'-' * 8}|--------|---|",
        ]
        for r in scale:
            verdict = "PASS" if 0 <= r["ms"] <= r["target_ms"] else "FAIL"
            figures = f"{r['ms']:6.0f} | {r['target_ms']:>6.0f}"
            lines.append(f"| {r['case']:<62} | {figures} | {verdict} {r['note']} |")
    if versus:
        lines += [
            "",
            f"Against MLflow's UI: {args.mlflow_runs} runs and one {args.mlflow_points:,}-point "
            "metric, each logged through its own API, each served by its own server.",
            "",
            "| UI | first runs visible (ms) | first chart painted (ms) |",
            "|---|---:|---:|",
        ]
        for r in versus:
            lines.append(
                f"| {r['ui']} | {r['runs_visible_ms']:.0f} | {r['chart_painted_ms']:.0f} |"
            )
        if len(versus) == 2:
            ml, rs = versus
            runs_ratio = ml["runs_visible_ms"] / rs["runs_visible_ms"]
            chart_ratio = ml["chart_painted_ms"] / rs["chart_painted_ms"]
            lines.append(f"| ratio (MLflow / runstack) | {runs_ratio:.1f}x | {chart_ratio:.1f}x |")
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=1_000)
    parser.add_argument("--compare-runs", type=int, default=100)
    parser.add_argument("--compare-points", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--skip-scale", action="store_true", help="only the MLflow comparison")
    parser.add_argument(
        "--mlflow-python",
        help="an interpreter with mlflow==3.17.2 (full package); without it, no comparison",
    )
    parser.add_argument("--mlflow-runs", type=int, default=500)
    parser.add_argument("--mlflow-points", type=int, default=10_000)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if not os.path.exists(CHROMIUM):
        log(f"no Chromium at {CHROMIUM}: apt-get install chromium")
        return 2
    from playwright.sync_api import sync_playwright

    WORK_ROOT.mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="ui-browser-", dir=WORK_ROOT))
    scale: list[dict[str, Any]] = []
    versus: list[dict[str, Any]] = []
    try:
        with sync_playwright() as playwright:
            browser = Browser(playwright)
            try:
                if not args.skip_scale:
                    scale = scale_part(args, workdir, browser)
                if args.mlflow_python:
                    versus = mlflow_part(args, workdir, browser)
            finally:
                browser.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    text = report(scale, versus, args)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"scale": scale, "versus": versus}, indent=2))
    return 0 if all(0 <= r["ms"] <= r["target_ms"] for r in scale) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
