"""Data, queries and the child process of ``bench_search.py``.

Imported by ``bench_search.py`` for the seeded data (standard library only, so the same file
serves the MLflow virtualenv too) and run by it as a child, once per implementation::

    python search_workload.py init  --impl mlflow|runstack --uri URI --scratch-uri URI --spec F
    python search_workload.py query --impl mlflow|runstack --uri URI --experiment-id ID
                                    --reps N --sample-ids ID,ID

``init`` creates the experiment ``bench`` through the public API (so each library creates
its own schema), and, in a separate scratch store, logs one reference run through the API
with the values of the first generated run: the parent compares its database rows with the
bulk-loaded ones. ``query`` times every query of ``QUERIES`` through
``MlflowClient().search_runs`` and reads the sample runs back with ``get_run``. Both print
one JSON object as the last line of stdout. ``--impl runstack`` imports ``runstack as
mlflow``; nothing else differs.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import math
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

SEED = 20240503
EXPERIMENT_NAME = "bench"
MAX_RESULTS = 100
BASE_TIME_MS = 1_700_000_000_000
USER_ID = "unknown"  # what both clients store for MlflowClient().create_run
STATUSES = ("FINISHED",) * 90 + ("FAILED",) * 7 + ("KILLED",) * 3
OPTIMIZERS = ("adam", "sgd", "rmsprop", "adagrad")
TEAMS = ("vision", "nlp", "speech")
NAN_SHARE = 0.05  # share of runs whose m0 is NaN


@dataclass(frozen=True)
class RunSpec:
    """One run as a user would have logged it: create_run, log_batch, set_terminated."""

    run_id: str
    name: str
    status: str
    start_time: int
    end_time: int
    params: dict[str, str]
    metrics: dict[str, float]  # one point per key, at ``step`` and ``end_time``
    step: int
    tags: dict[str, str]  # without mlflow.runName, which the client adds


@dataclass(frozen=True)
class Query:
    """One search: ``MlflowClient().search_runs([exp], filter, order_by=..., max_results=100)``,
    and the same search in Python (``match`` and ``key``) that the answers are checked with."""

    name: str
    filter: str
    order_by: tuple[str, ...]
    match: Callable[[RunSpec], bool]
    key: Callable[[RunSpec], tuple[Any, ...]]  # order_by's keys; start_time DESC, run_id follow
    headline: bool = False


def metric_key(spec: RunSpec, key: str, descending: bool) -> tuple[int, float]:
    """MLflow's order: real values first (in the asked direction), then NaN, then missing."""
    value = spec.metrics.get(key)
    if value is None:
        return (2, 0.0)
    if math.isnan(value):
        return (1, 0.0)
    return (0, -value if descending else value)


def between(value: float, low: float, high: float) -> bool:
    """``low <= value < high``; NaN fails every comparison."""
    return not math.isnan(value) and low <= value < high


QUERIES = (
    Query(
        "headline",
        "params.p0 = 'v3' and metrics.m1 > 0.5",
        ("metrics.m2 DESC",),
        lambda s: s.params["p0"] == "v3" and s.metrics["m1"] > 0.5,  # NaN > x is False
        lambda s: metric_key(s, "m2", True),
        headline=True,
    ),
    Query(
        "metric_range",
        "metrics.m0 >= 0.25 and metrics.m0 < 0.252",
        ("metrics.m0 ASC",),
        lambda s: between(s.metrics["m0"], 0.25, 0.252),
        lambda s: metric_key(s, "m0", False),
    ),
    Query("param_eq", "params.p2 = 'c42'", (), lambda s: s.params["p2"] == "c42", lambda s: ()),
    Query("no_filter", "", (), lambda s: True, lambda s: ()),
    Query(
        "tag_param",
        "tags.t1 = 'g7' and params.p2 = 'c17'",
        ("metrics.m0 DESC",),
        lambda s: s.tags["t1"] == "g7" and s.params["p2"] == "c17",
        lambda s: metric_key(s, "m0", True),
    ),
)


def generate_runs(count: int, chunk: int = 20_000, seed: int = SEED) -> Iterator[list[RunSpec]]:
    """``count`` runs in chunks, the same ones for the same seed on any machine.

    p0 has 10 values, p1 4, p2 100; m0..m2 are uniform in [0, 1) with 5% NaN in m0; t0 has 3
    values, t1 20, t2 is nearly unique. Start times increase by about a minute per run.
    """
    rng = random.Random(seed)
    for first in range(0, count, chunk):
        batch = []
        for index in range(first, min(first + chunk, count)):
            start = BASE_TIME_MS + index * 60_000 + rng.randrange(60_000)
            m0 = math.nan if rng.random() < NAN_SHARE else rng.random()
            batch.append(
                RunSpec(
                    run_id=uuid.UUID(int=rng.getrandbits(128), version=4).hex,
                    name=f"run-{index:07d}",
                    status=rng.choice(STATUSES),
                    start_time=start,
                    end_time=start + rng.randrange(1_000, 3_600_000),
                    params={
                        "p0": f"v{rng.randrange(10)}",
                        "p1": rng.choice(OPTIMIZERS),
                        "p2": f"c{rng.randrange(100)}",
                    },
                    metrics={"m0": m0, "m1": rng.random(), "m2": rng.random()},
                    step=rng.randrange(1, 1000),
                    tags={
                        "t0": rng.choice(TEAMS),
                        "t1": f"g{rng.randrange(20)}",
                        "t2": f"note-{rng.randrange(10**6)}",
                    },
                )
            )
        yield batch


def spec_from_json(data: dict[str, Any]) -> RunSpec:
    """Inverse of ``dataclasses.asdict`` for a RunSpec."""
    return RunSpec(**data)


def spec_to_json(spec: RunSpec) -> dict[str, Any]:
    """A RunSpec as JSON-ready data (NaN stays NaN: Python's json writes and reads it)."""
    return asdict(spec)


# --------------------------------------------------------------------------- child


def import_impl(impl: str) -> Any:
    """``mlflow``, or ``runstack`` standing in for it."""
    if impl not in ("mlflow", "runstack"):
        raise SystemExit(f"search_workload.py: unknown --impl {impl!r}")
    for name in ("mlflow", "alembic", "sqlalchemy", "runstack"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return importlib.import_module(impl)


def log_reference_run(lib: Any, client: Any, experiment_id: str, spec: RunSpec) -> str:
    """Log ``spec`` through the public API, the way a user's script would; return its id."""
    entities = importlib.import_module(f"{lib.__name__}.entities")
    run = client.create_run(
        experiment_id, start_time=spec.start_time, tags=dict(spec.tags), run_name=spec.name
    )
    run_id: str = run.info.run_id
    client.log_batch(
        run_id,
        metrics=[
            entities.Metric(key, value, spec.end_time, spec.step)
            for key, value in spec.metrics.items()
        ],
        params=[entities.Param(key, value) for key, value in spec.params.items()],
    )
    client.set_terminated(run_id, spec.status, end_time=spec.end_time)
    return run_id


def child_init(args: argparse.Namespace) -> dict[str, Any]:
    """Create the benchmark experiment; log the reference run in the scratch store."""
    lib = import_impl(args.impl)
    client = lib.MlflowClient(tracking_uri=args.uri)
    experiment_id = str(client.create_experiment(EXPERIMENT_NAME))
    location = client.get_experiment(experiment_id).artifact_location
    result: dict[str, Any] = {
        "experiment_id": experiment_id,
        "artifact_location": location,
        "version": lib.__version__,
    }
    if args.scratch_uri:
        with open(args.spec) as handle:
            spec = spec_from_json(json.load(handle))
        scratch = lib.MlflowClient(tracking_uri=args.scratch_uri)
        scratch_experiment = str(scratch.create_experiment(EXPERIMENT_NAME))
        result["reference_run_id"] = log_reference_run(lib, scratch, scratch_experiment, spec)
        result["reference_artifact_location"] = scratch.get_experiment(
            scratch_experiment
        ).artifact_location
    return result


def run_as_data(run: Any) -> dict[str, Any]:
    """What ``get_run`` returned, as plain data to compare with the generated RunSpec."""
    info = run.info
    return {
        "run_id": info.run_id,
        "run_name": info.run_name,
        "status": info.status,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "user_id": info.user_id,
        "lifecycle_stage": info.lifecycle_stage,
        "artifact_uri": info.artifact_uri,
        "params": dict(run.data.params),
        "metrics": dict(run.data.metrics),
        "tags": dict(run.data.tags),
    }


def child_query(args: argparse.Namespace) -> dict[str, Any]:
    """Time each query (1 warm-up, then ``reps`` timed calls); keep the last page's ids."""
    lib = import_impl(args.impl)
    client = lib.MlflowClient(tracking_uri=args.uri)
    experiment_ids = [args.experiment_id]
    results: dict[str, Any] = {}
    for query in QUERIES:
        order_by = list(query.order_by) or None
        times = []
        page: Any = None
        for rep in range(args.reps + 1):
            t0 = time.perf_counter()
            page = client.search_runs(
                experiment_ids,
                filter_string=query.filter,
                order_by=order_by,
                max_results=MAX_RESULTS,
            )
            elapsed = time.perf_counter() - t0
            if rep > 0:  # the first call is the warm-up
                times.append(elapsed)
        assert page is not None
        results[query.name] = {
            "seconds": times,
            "run_ids": [run.info.run_id for run in page],
            "has_next_page": bool(page.token),
        }
    samples = {run_id: run_as_data(client.get_run(run_id)) for run_id in args.sample_ids}
    return {"version": lib.__version__, "queries": results, "samples": samples}


def main(argv: list[str]) -> int:
    """Run one child mode and print its JSON result as the last stdout line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=("init", "query"))
    parser.add_argument("--impl", required=True, choices=("mlflow", "runstack"))
    parser.add_argument("--uri", required=True)
    parser.add_argument("--scratch-uri")
    parser.add_argument("--spec")
    parser.add_argument("--experiment-id")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument(
        "--sample-ids", type=lambda text: [t for t in text.split(",") if t], default=[]
    )
    args = parser.parse_args(argv)
    result = child_init(args) if args.mode == "init" else child_query(args)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
