"""How long a hostile search takes on a real server, and whether other requests wait for it.

    python benchmarks/bench_hostile_filters.py [--runs 2000] [--postgres URI]

For each database: fills a store with runs (params, metrics, tags), starts a server on a
loopback port, and sends hostile searches (over the limits: refused while parsing; at the
limits: the worst accepted shapes) while another thread keeps asking for an experiment; prints
each search's time and answer, and the slowest concurrent request seen meanwhile.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from typing import Any

import httpx

import runstack
from runstack.server.background import BackgroundServer

API = "/api/2.0/mlflow/"


def _fill(uri: str, runs: int) -> str:
    client = runstack.TrackingClient(uri)
    experiment_id = client.create_experiment(f"hostile-{uuid.uuid4().hex[:8]}")
    for i in range(runs):
        run = client.create_run(experiment_id)
        client.log_batch(
            run.info.run_id,
            metrics=[runstack.Metric(f"m{k}", i * 0.1 + k, 0, 0) for k in range(5)],
            params=[runstack.Param(f"p{k}", str(i % 97 + k)) for k in range(5)],
            tags=[runstack.RunTag(f"t{k}", f"v{i % 13}") for k in range(3)],
        )
    return experiment_id


def _searches(experiment_id: str) -> dict[str, tuple[str, dict[str, Any]]]:
    ids = [experiment_id]
    return {
        "3,000 ORs (48 KB)": (
            "runs/search",
            {"experiment_ids": ids, "filter": " or ".join(["params.p='1'"] * 3000)},
        ),
        "999-clause experiments/search": (
            "experiments/search",
            {"filter": " OR ".join(f"name = 'x{i}'" for i in range(999)), "max_results": 10},
        ),
        "2,000 NOTs": ("runs/search", {"experiment_ids": ids, "filter": "NOT " * 2000 + "a=1"}),
        "50 AND-ed params (limit)": (
            "runs/search",
            {
                "experiment_ids": ids,
                "filter": " and ".join(f"params.p{k % 5} != 'z{k}'" for k in range(50)),
            },
        ),
        "50 OR-ed LIKE + 20 order_by metrics": (
            "runs/search",
            {
                "experiment_ids": ids,
                "filter": " or ".join(f"tags.t{k % 3} LIKE '%{k}%'" for k in range(50)),
                "order_by": [f"metrics.m{k}" for k in range(5)]
                + [f"params.p{k}" for k in range(5)]
                + [f"tags.t{k}" for k in range(3)]
                + [f"metrics.x{k}" for k in range(7)],
                "max_results": 1000,
            },
        ),
        "50 AND-ed metric ranges (limit)": (
            "runs/search",
            {
                "experiment_ids": ids,
                "filter": " and ".join(f"metrics.m{k % 5} > {-k}" for k in range(50)),
                "max_results": 1000,
            },
        ),
    }


def _measure(url: str, experiment_id: str) -> None:
    stop = threading.Event()
    latencies: list[float] = []

    def others() -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            while not stop.is_set():
                started = time.perf_counter()
                http.get(API + "experiments/get", params={"experiment_id": experiment_id})
                latencies.append(time.perf_counter() - started)
                time.sleep(0.02)

    worker = threading.Thread(target=others, daemon=True)
    worker.start()
    with httpx.Client(base_url=url, timeout=120) as http:
        for name, (path, body) in _searches(experiment_id).items():
            before = len(latencies)
            started = time.perf_counter()
            response = http.post(API + path, json=body)
            took = time.perf_counter() - started
            during = latencies[before:] or [0.0]
            answer = response.status_code
            detail = "" if answer == 200 else response.json()["message"][:60]
            print(
                f"  {name:38s} {answer}  {took:7.3f} s   others max {max(during) * 1000:6.1f} ms"
                f"  {detail}"
            )
    stop.set()
    worker.join()
    print(
        f"  other requests: {len(latencies)}, median {statistics.median(latencies) * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for label, uri in (
            ("SQLite", f"sqlite:///{folder}/hostile.db"),
            ("PostgreSQL", args.postgres),
        ):
            print(f"{label}: {args.runs} runs")
            experiment_id = _fill(uri, args.runs)
            with BackgroundServer(uri) as url:
                _measure(url, experiment_id)


if __name__ == "__main__":
    main()
