"""The web UI's data endpoints at scale (issue 11): how long the server takes to answer what
the pages ask for, on an experiment of 100,000 runs, a metric of 1,000,000 points, a run of
10,000 metric keys and a comparison of 100 runs x 10,000 points.

Usage::

    .venv/bin/python benchmarks/bench_ui_api.py [--runs N] [--points N] [--keys N]
        [--compare-runs N] [--compare-points N] [--reps N] [--postgres] [--keep] [--json PATH]

Data: the 100,000 runs are ``search_workload.generate_runs`` (3 params, 3 metrics, 3 tags),
bulk-loaded with ``bench_search``'s loader (rows identical to the API's, block summaries
included). Everything else is logged through the store's own ``log_batch`` (5,000 points a
call, so folds write blocks and summaries as in real use): one run with a 1,000,000-point
metric (noise, a slow trend and one single-step spike), one run with 10,000 metric keys, and
100 runs with a 10,000-point metric each, all in the same experiment.

Measured: the server runs in this process (``BackgroundServer``, a real socket); each case is
one warm-up then the median of ``--reps`` requests, timed from sending to the whole body read
(loopback adds about 0.3 ms), with the response size. Exit status 0 when every case answers
200 and the 1M-point series is within 200 KB and 1 s, else 1.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from bench_core import WORK_ROOT, log
from bench_search import RunstackPostgresLoader, RunstackSqliteLoader
from search_workload import generate_runs

from runstack.entities import Metric
from runstack.server.background import BackgroundServer
from runstack.store import open_store
from runstack.store.sql.store import SqlStore

UI = "/api/2.0/runstack/ui/"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LOG_CALL_POINTS = 5_000
SERIES_BYTES_LIMIT = 200_000
SERIES_MS_LIMIT = 1_000.0


def _long_history(run_id: str, count: int, seed: int) -> list[Metric]:
    """A loss-like curve: trend, noise, one spike at two thirds."""
    rng = random.Random(seed)
    spike = count * 2 // 3
    points = []
    for step in range(count):
        value = 2.0 * math.exp(-step / (count / 5)) + rng.random() * 0.05
        if step == spike:
            value = 50.0
        points.append(Metric("loss", value, 1_700_000_000_000 + step, step, run_id))
    return points


def _log_points(store: SqlStore, run_id: str, points: list[Metric]) -> None:
    for start in range(0, len(points), LOG_CALL_POINTS):
        store.log_batch(run_id, points[start : start + LOG_CALL_POINTS], [], [])


def build(
    uri: str, args: argparse.Namespace, pg_url: str | None, path: Path | None
) -> dict[str, Any]:
    store = open_store(uri)
    assert isinstance(store, SqlStore)
    experiment_id = store.create_experiment("ui-bench", None, [])
    location = store.get_experiment(experiment_id).artifact_location
    store.close()
    log(f"loading {args.runs:,} runs")
    t0 = time.perf_counter()
    loader: RunstackSqliteLoader | RunstackPostgresLoader
    if pg_url is not None:
        loader = RunstackPostgresLoader(pg_url, int(experiment_id), location)
    else:
        assert path is not None
        loader = RunstackSqliteLoader(path, int(experiment_id), location)
    for batch in generate_runs(args.runs):
        loader.add(batch)
    loader.finish()
    log(f"  {time.perf_counter() - t0:.1f} s")
    store = open_store(uri)
    assert isinstance(store, SqlStore)

    def new_run(name: str) -> str:
        return store.create_run(
            experiment_id, "bench", 1_800_000_000_000, name, [], None, None
        ).info.run_id

    log(f"logging a {args.points:,}-point metric")
    t0 = time.perf_counter()
    long_run = new_run("long-history")
    _log_points(store, long_run, _long_history(long_run, args.points, 1))
    store.update_run(long_run, "FINISHED", None, None)
    log(f"  {time.perf_counter() - t0:.1f} s")
    log(f"logging {args.keys:,} metric keys")
    wide_run = new_run("wide")
    keys = [f"layer{i:05d}/grad_norm" for i in range(args.keys)]
    for start in range(0, len(keys), 1000):
        metrics = [Metric(k, 1.0, 1, 0) for k in keys[start : start + 1000]]
        store.log_batch(wide_run, metrics, [], [])
    store.update_run(wide_run, "FINISHED", None, None)
    log(f"logging {args.compare_runs} runs x {args.compare_points:,} points")
    compared = []
    for i in range(args.compare_runs):
        run_id = new_run(f"compare-{i:03d}")
        _log_points(store, run_id, _long_history(run_id, args.compare_points, 100 + i))
        store.update_run(run_id, "FINISHED", None, None)
        compared.append(run_id)
    store.close()
    return {
        "experiment_id": experiment_id,
        "long_run": long_run,
        "wide_run": wide_run,
        "compared": compared,
    }


def cases(
    data: dict[str, Any], args: argparse.Namespace
) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(name, method, path, params or body) of every measured request."""
    exp = data["experiment_id"]
    points, keys = f"{args.points:,}", f"{args.keys:,}"
    compare = f"{args.compare_runs} runs x {args.compare_points:,} points"
    columns = {"metrics": ["m0", "m1"], "params": ["p0", "p1"], "tags": ["t0"]}
    table = {"experiment_ids": [exp], "columns": columns, "max_results": 100}
    middle = args.points // 2
    return [
        ("experiments list (run counts, last activity)", "GET", "experiments", {}),
        ("runs/table: first page", "POST", "runs/table", table),
        (
            "runs/table: first page, top-level runs",
            "POST",
            "runs/table",
            {**table, "parent_run_id": ""},
        ),
        (
            "runs/table: sort by a metric",
            "POST",
            "runs/table",
            {**table, "order_by": ["metrics.m0 DESC"]},
        ),
        (
            "runs/table: filter",
            "POST",
            "runs/table",
            {**table, "filter": "params.p2 = 'c42' and metrics.m1 > 0.5"},
        ),
        (
            "runs/table: filter with OR, sorted",
            "POST",
            "runs/table",
            {
                **table,
                "filter": "(tags.t1 = 'g7' OR params.p0 = 'v3') AND metrics.m2 < 0.1",
                "order_by": ["metrics.m1 ASC"],
            },
        ),
        (
            f"experiments/keys: first 100 of {keys}",
            "GET",
            "experiments/keys",
            {"experiment_id": exp},
        ),
        (
            "experiments/keys: search 'LAYER0999'",
            "GET",
            "experiments/keys",
            {"experiment_id": exp, "contains": "LAYER0999"},
        ),
        (
            f"experiments/keys: all {keys}",
            "GET",
            "experiments/keys",
            {"experiment_id": exp, "max_results": 10_000},
        ),
        (f"runs/detail: run with {keys} keys", "GET", "runs/detail", {"run_id": data["wide_run"]}),
        (
            f"runs/detail: run with the {points}-point metric",
            "GET",
            "runs/detail",
            {"run_id": data["long_run"]},
        ),
        (
            f"metrics/series: {points} points, max_points 1000",
            "GET",
            "metrics/series",
            {"run_id": data["long_run"], "key": "loss", "max_points": 1000},
        ),
        (
            f"metrics/series: {points} points, max_points 2500",
            "GET",
            "metrics/series",
            {"run_id": data["long_run"], "key": "loss", "max_points": 2500},
        ),
        (
            "metrics/series: zoom to 1,000 steps (full resolution)",
            "GET",
            "metrics/series",
            {
                "run_id": data["long_run"],
                "key": "loss",
                "max_points": 1000,
                "min_step": middle,
                "max_step": middle + 999,
            },
        ),
        (
            f"metrics/series: compare {compare}",
            "GET",
            "metrics/series",
            {"run_id": data["compared"], "key": "loss", "max_points": 1000},
        ),
    ]


def measure(url: str, data: dict[str, Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    with httpx.Client(base_url=url + UI, timeout=600) as http:
        for name, method, path, payload in cases(data, args):
            send: Callable[[], httpx.Response]
            if method == "GET":
                send = lambda p=path, q=payload: http.get(p, params=q)  # noqa: E731
            else:
                send = lambda p=path, b=payload: http.post(p, json=b)  # noqa: E731
            send()  # warm-up
            times = []
            for _ in range(args.reps):
                t0 = time.perf_counter()
                response = send()
                times.append((time.perf_counter() - t0) * 1000)
            body = response.json()
            note = ""
            if path == "metrics/series":
                series = body["series"]
                note = (
                    f"{sum(len(s['steps']) for s in series):,} of "
                    f"{sum(s['total_points'] for s in series):,} points"
                )
            elif path == "runs/table":
                note = f"{len(body['runs'])} runs"
            elif path == "experiments/keys":
                note = f"{len(body['keys']):,} keys"
            results.append(
                {
                    "case": name,
                    "status": response.status_code,
                    "median_ms": statistics.median(times),
                    "bytes": len(response.content),
                    "note": note,
                }
            )
            log(f"  {name}: {statistics.median(times):.1f} ms")
    return results


def render(results: list[dict[str, Any]], args: argparse.Namespace, backend: str) -> str:
    lines = [
        f"runstack web UI data endpoints, {backend}: {args.runs:,} runs; a {args.points:,}-point "
        f"metric; {args.keys:,} metric keys; {args.compare_runs} runs x "
        f"{args.compare_points:,} points. Median of {args.reps} requests after 1 warm-up.",
        "",
        f"| {'case':<55} | {'ms':>8} | {'bytes':>9} | note |",
        f"|{'-' * 57}|{'-' * 10}|{'-' * 11}|------|",
    ]
    for r in results:
        status = "" if r["status"] == 200 else f" (HTTP {r['status']})"
        lines.append(
            f"| {r['case']:<55} | {r['median_ms']:8.1f} | {r['bytes']:9,} | {r['note']}{status} |"
        )
    return "\n".join(lines)


def passed(results: list[dict[str, Any]]) -> bool:
    ok = all(r["status"] == 200 for r in results)
    for r in results:
        if r["case"].startswith("metrics/series") and r["case"].endswith("max_points 1000"):
            ok = ok and r["bytes"] <= SERIES_BYTES_LIMIT and r["median_ms"] <= SERIES_MS_LIMIT
    return ok


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--compare-runs", type=int, default=100)
    parser.add_argument("--compare-points", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    WORK_ROOT.mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="ui-api-", dir=WORK_ROOT))
    pg_name = None
    try:
        if args.postgres:
            import psycopg

            pg_name = f"runstack_uibench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{pg_name}"')
            pg_url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{pg_name}"
            uri, path, backend = pg_url, None, "PostgreSQL"
        else:
            path = workdir / "ui.db"
            uri, pg_url, backend = f"sqlite:///{path}", None, "SQLite"
        data = build(uri, args, pg_url, path)
        log("measuring")
        with BackgroundServer(uri) as url:
            results = measure(url, data, args)
        report = render(results, args, backend)
        print(report)
        if args.json:
            args.json.write_text(json.dumps({"backend": backend, "results": results}, indent=2))
        return 0 if passed(results) else 1
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
            if pg_name is not None:
                import psycopg

                with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
