"""Search benchmark (issue 3, item 4): ``search_runs`` on 100,000 runs in SQLite, runstack
against MLflow 3.17.2, and runstack alone on 1,000,000 runs in PostgreSQL.

Usage::

    .venv/bin/python benchmarks/bench_search.py [--runs N] [--pg-runs N] [--skip-mlflow]
                                                [--quick] [--reps N] [--keep] [--json PATH]

Each run has 3 params, 3 metrics (one point each) and 3 tags plus ``mlflow.runName``, all
from one seeded generator (``search_workload.generate_runs``). Each library creates its own
schema through its public API; the rows are then bulk-inserted into its tables (runstack:
SQLAlchemy Core, one transaction; MLflow: sqlite3 ``executemany``, one transaction, then
``ANALYZE``; PostgreSQL: psycopg ``COPY``, then ``VACUUM (ANALYZE)``). A reference run logged
through each library's API must produce exactly the rows the loader writes, and ``get_run``
of sample runs must return the generated values, or the benchmark stops.

Queries run in a fresh process per implementation (``search_workload.py query``) through
``MlflowClient().search_runs(..., max_results=100)``: 1 warm-up call, then the median of
``--reps`` timed calls. Every answer is compared with the page computed in Python from the
generated data, so both implementations are checked against the same oracle.

Exit status: 0 when the headline target is met and every answer is right, 1 otherwise,
2 when the benchmark could not run.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from bench_core import (
    MLFLOW_VERSION,
    WORK_ROOT,
    BenchError,
    child_env,
    ensure_mlflow_venv,
    log,
    parse_last_json_line,
    tail,
)
from search_workload import (
    MAX_RESULTS,
    QUERIES,
    USER_ID,
    Query,
    RunSpec,
    generate_runs,
    spec_to_json,
)

from runstack.store.sql import schema
from runstack.store.sql.block_summary import summary_row
from runstack.store.sql.packing import pack_block

HERE = Path(__file__).resolve().parent
CHILD = HERE / "search_workload.py"
CHILD_TIMEOUT = 3600.0
HEADLINE_MS = 50.0
HEADLINE_RATIO = 10.0
TARGET_RUNS = 100_000  # the data size the headline target is stated for
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
MIN_FREE_GB = 5.0
HISTORY_LOG = "metric_log"  # runstack's not-yet-compacted metric history, numbered by ``seq``

# Column lists, in the order of the row tuples built below.
RUNSTACK_RUN_COLUMNS = (
    "run_id", "experiment_id", "name", "user_id", "status", "start_time", "end_time",
    "artifact_uri", "lifecycle_stage", "deleted_time", "deleted_with_experiment",
    "heartbeat_time", "heartbeat_deadline",
)  # fmt: skip
RUNSTACK_POINT_COLUMNS = ("run_id", "key", "value", "value_kind", "timestamp", "step")
RUNSTACK_SUMMARY_COLUMNS = (
    "run_id", "key", "first_seq", "n_points", "min_step", "max_step", "min_value", "max_value",
    "chunks",
)  # fmt: skip
MLFLOW_RUN_COLUMNS = (
    "run_uuid", "name", "source_type", "source_name", "entry_point_name", "user_id", "status",
    "start_time", "end_time", "source_version", "lifecycle_stage", "artifact_uri",
    "experiment_id", "deleted_time",
)  # fmt: skip

LEGEND = (
    "matches: runs the filter matches; NaN: runs on the page whose order-by metric is NaN;"
    " ratio: MLflow ms / runstack ms;\n"
    "ids: ok when the page (ids, order, next-page token) equals the one computed in Python"
    " from the generated runs"
)

Row = tuple[Any, ...]
Tables = dict[str, tuple[tuple[str, ...], list[Row]]]


# --------------------------------------------------------------------------- rows


def runstack_tables(
    batch: Sequence[RunSpec], experiment_id: int, location: str, first_seq: int
) -> Tables:
    """The rows runstack's API writes for these runs once they are finished (latest value NaN:
    value NULL, value_kind 1). The history is in ``metric_blocks`` (folded there from
    ``metric_log`` when a run ends, with its ``metric_summaries`` row): one packed block per
    (run, key), each point numbered by
    the store-wide ``seq`` of its logging call (one ``log_metrics`` call per run), from
    ``first_seq``."""
    runs: list[Row] = []
    params: list[Row] = []
    tags: list[Row] = []
    metrics: list[Row] = []
    summaries: list[Row] = []
    latest: list[Row] = []
    for number, s in enumerate(batch):
        seq = first_seq + number  # the run's one log_metrics call
        runs.append(
            (s.run_id, experiment_id, s.name, USER_ID, s.status, s.start_time, s.end_time,
             f"{location}/{s.run_id}/artifacts", "active", None, False, None, None)
        )  # fmt: skip
        params.extend((s.run_id, k, v) for k, v in s.params.items())
        tags.extend((s.run_id, k, v) for k, v in s.tags.items())
        tags.append((s.run_id, "mlflow.runName", s.name))
        for key, value in s.metrics.items():
            nan = math.isnan(value)
            row = (s.run_id, key, None if nan else value, 1 if nan else 0, s.end_time, s.step)
            points = pack_block([seq], [value], [s.end_time], [s.step])
            metrics.append((s.run_id, key, seq, 1, points))
            summary = summary_row(s.run_id, key, seq, [value], [s.end_time], [s.step])
            summaries.append(tuple(summary[c] for c in RUNSTACK_SUMMARY_COLUMNS))
            latest.append(row)
    return {
        "runs": (RUNSTACK_RUN_COLUMNS, runs),
        "params": (("run_id", "key", "value"), params),
        "tags": (("run_id", "key", "value"), tags),
        "metric_blocks": (("run_id", "key", "first_seq", "n_points", "points"), metrics),
        "metric_summaries": (RUNSTACK_SUMMARY_COLUMNS, summaries),
        "latest_metrics": (RUNSTACK_POINT_COLUMNS, latest),
    }


def mlflow_tables(batch: Sequence[RunSpec], experiment_id: int, location: str) -> Tables:
    """The rows MLflow 3.17.2's SQLAlchemy store writes (NaN: value 0.0, is_nan 1)."""
    runs: list[Row] = []
    params: list[Row] = []
    tags: list[Row] = []
    metrics: list[Row] = []
    latest: list[Row] = []
    for s in batch:
        runs.append(
            (s.run_id, s.name, "UNKNOWN", "", "", USER_ID, s.status, s.start_time, s.end_time,
             "", "active", f"{location}/{s.run_id}/artifacts", experiment_id, None)
        )  # fmt: skip
        params.extend((k, v, s.run_id) for k, v in s.params.items())
        tags.extend((k, v, s.run_id) for k, v in s.tags.items())
        tags.append(("mlflow.runName", s.name, s.run_id))
        for key, value in s.metrics.items():
            nan = math.isnan(value)
            stored = 0.0 if nan else value
            metrics.append((key, stored, s.end_time, s.run_id, s.step, int(nan)))
            latest.append((key, stored, s.end_time, s.step, int(nan), s.run_id))
    return {
        "runs": (MLFLOW_RUN_COLUMNS, runs),
        "params": (("key", "value", "run_uuid"), params),
        "tags": (("key", "value", "run_uuid"), tags),
        "metrics": (("key", "value", "timestamp", "run_uuid", "step", "is_nan"), metrics),
        "latest_metrics": (("key", "value", "timestamp", "step", "is_nan", "run_uuid"), latest),
    }


# --------------------------------------------------------------------------- loaders


class Loader:
    """Bulk-inserts chunks of runs into one store, inside one transaction."""

    def __init__(self, experiment_id: int, location: str) -> None:
        self.experiment_id = experiment_id
        self.location = location  # the experiment's artifact location
        self.seconds = 0.0  # inserting and committing, generation excluded
        self.next_seq = 1  # runstack: the next metric history number

    def rows(self, batch: Sequence[RunSpec]) -> Tables:
        """runstack's rows for ``batch``, numbering the history after the previous batch."""
        tables = runstack_tables(batch, self.experiment_id, self.location, self.next_seq)
        self.next_seq += len(batch)
        return tables

    def add(self, batch: Sequence[RunSpec]) -> None:
        t0 = time.perf_counter()
        self._add(batch)
        self.seconds += time.perf_counter() - t0

    def finish(self) -> None:
        t0 = time.perf_counter()
        self._finish()
        self.seconds += time.perf_counter() - t0

    def _add(self, batch: Sequence[RunSpec]) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        raise NotImplementedError


class RunstackSqliteLoader(Loader):
    """SQLAlchemy Core inserts into runstack's tables (``runstack.store.sql.schema``)."""

    def __init__(self, path: Path, experiment_id: int, location: str) -> None:
        super().__init__(experiment_id, location)
        self.engine = sa.create_engine(f"sqlite:///{path}")
        self.connection = self.engine.connect()
        self.transaction = self.connection.begin()

    def _add(self, batch: Sequence[RunSpec]) -> None:
        for name, (columns, rows) in self.rows(batch).items():
            table = schema.metadata.tables[name]
            self.connection.execute(
                sa.insert(table), [dict(zip(columns, r, strict=True)) for r in rows]
            )

    def _finish(self) -> None:
        if HISTORY_LOG in schema.metadata.tables and self.next_seq > 1:
            # What the API's AUTOINCREMENT leaves behind: new values are numbered after ours.
            last = {"seq": self.next_seq - 1}
            moved = self.connection.execute(
                sa.text("UPDATE sqlite_sequence SET seq = :seq WHERE name = 'metric_log'"), last
            )
            if moved.rowcount == 0:
                self.connection.execute(
                    sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('metric_log', :seq)"),
                    last,
                )
        self.transaction.commit()
        self.connection.close()
        self.engine.dispose()


class MlflowSqliteLoader(Loader):
    """sqlite3 ``executemany`` into MLflow's tables, one transaction, then ``ANALYZE``."""

    def __init__(self, path: Path, experiment_id: int, location: str) -> None:
        super().__init__(experiment_id, location)
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.execute("BEGIN")

    def _add(self, batch: Sequence[RunSpec]) -> None:
        for name, (columns, rows) in mlflow_tables(
            batch, self.experiment_id, self.location
        ).items():
            marks = ", ".join("?" * len(columns))
            quoted = ", ".join(f'"{c}"' for c in columns)
            self.connection.executemany(f"INSERT INTO {name} ({quoted}) VALUES ({marks})", rows)

    def _finish(self) -> None:
        self.connection.execute("COMMIT")
        self.connection.execute("ANALYZE")
        self.connection.close()


class RunstackPostgresLoader(Loader):
    """psycopg 3 ``COPY ... FROM STDIN`` into runstack's tables, one transaction, then
    ``VACUUM (ANALYZE)``."""

    def __init__(self, url: str, experiment_id: int, location: str) -> None:
        import psycopg

        super().__init__(experiment_id, location)
        self.connection = psycopg.connect(url)

    def _add(self, batch: Sequence[RunSpec]) -> None:
        with self.connection.cursor() as cursor:
            for name, (columns, rows) in self.rows(batch).items():
                with cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)

    def _finish(self) -> None:
        if HISTORY_LOG in schema.metadata.tables and self.next_seq > 1:
            self.connection.execute(
                "SELECT setval(pg_get_serial_sequence('metric_log', 'seq'), %s)",
                (self.next_seq - 1,),
            )
        self.connection.commit()
        self.connection.autocommit = True
        # ANALYZE for the planner; VACUUM sets the visibility map that index-only scans need,
        # as autovacuum would soon after a bulk insert (without it every index entry read
        # also reads its table row).
        self.connection.execute("VACUUM (ANALYZE)")
        self.connection.close()


# --------------------------------------------------------------------------- oracle


@dataclass
class Expected:
    """The first ``MAX_RESULTS + 1`` matches of one query, kept chunk by chunk."""

    query: Query
    count: int = 0
    best: list[tuple[tuple[Any, ...], str, bool]] = field(default_factory=list)

    def add(self, batch: Iterable[RunSpec]) -> None:
        found = []
        for s in batch:
            if self.query.match(s):
                key = self.query.key(s)
                found.append(((*key, -s.start_time, s.run_id), s.run_id, key[:1] == (1,)))
        self.count += len(found)
        self.best = heapq.nsmallest(MAX_RESULTS + 1, self.best + found)

    def run_ids(self) -> list[str]:
        return [run_id for _, run_id, _ in self.best[:MAX_RESULTS]]

    def nan_runs(self) -> int:
        """Runs on the expected page whose order-by metric is NaN (rank 1 of ``metric_key``):
        where they land checks the NaN ordering."""
        return sum(nan for _, _, nan in self.best[:MAX_RESULTS])


# --------------------------------------------------------------------------- children


def run_child(python: Path, args: list[str], cwd: Path, what: str) -> dict[str, Any]:
    """Run ``search_workload.py`` with ``args``; return its JSON result."""
    proc = subprocess.run(
        [str(python), str(CHILD), *args],
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchError(f"{what}: exit {proc.returncode}\n{tail(proc.stderr or proc.stdout)}")
    return parse_last_json_line(proc.stdout, what)


# --------------------------------------------------------------------------- checks


def run_tables(connection: sqlite3.Connection, id_column: str) -> list[str]:
    """Every table with a column ``id_column``: all the places an API call may write to."""
    names = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    return sorted(
        name
        for name in names
        if any(col[1] == id_column for col in connection.execute(f'PRAGMA table_info("{name}")'))
    )


def stored_rows(
    connection: sqlite3.Connection, table: str, id_column: str, run_id: str, loc: str
) -> list[Row]:
    """One run's rows of ``table``, with its id and artifact location made generic and
    ``seq`` (a global counter) replaced by its rank among the run's rows."""
    cursor = connection.execute(f'SELECT * FROM "{table}" WHERE {id_column} = ?', (run_id,))
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    if "seq" in names:
        order = sorted(r["seq"] for r in rows if r["seq"] is not None)
        for r in rows:
            r["seq"] = None if r["seq"] is None else order.index(r["seq"])

    def generic(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(loc, "<location>").replace(run_id, "<run_id>")
        return value

    return sorted((tuple((n, generic(v)) for n, v in r.items()) for r in rows), key=repr)


def check_rows_like_api(
    impl: str, bench_db: Path, scratch_db: Path, init: dict[str, Any], first: RunSpec
) -> None:
    """The bulk-loaded first run must have exactly the rows, in every table, of the same run
    logged through the library's API (create_run, log_batch, set_terminated)."""
    id_column = "run_uuid" if impl == "mlflow" else "run_id"
    loaded_db, logged_db = sqlite3.connect(bench_db), sqlite3.connect(scratch_db)
    try:
        tables = run_tables(logged_db, id_column)
        if tables != run_tables(loaded_db, id_column):
            raise BenchError(f"{impl}: the benchmark and reference databases have other tables")
        for table in tables:
            loaded = stored_rows(
                loaded_db, table, id_column, first.run_id, init["artifact_location"]
            )
            logged = stored_rows(
                logged_db,
                table,
                id_column,
                init["reference_run_id"],
                init["reference_artifact_location"],
            )
            if loaded != logged:
                raise BenchError(
                    f"{impl}: bulk-loaded {table} rows differ from the API's:\n"
                    f"  loaded {loaded}\n  API    {logged}"
                )
    finally:
        loaded_db.close()
        logged_db.close()


def same_float(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def check_samples(impl: str, samples: dict[str, Any], specs: dict[str, RunSpec], loc: str) -> None:
    """``get_run`` of the sample runs must return the generated values."""
    for run_id, got in samples.items():
        s = specs[run_id]
        want = {
            "run_id": s.run_id, "run_name": s.name, "status": s.status,
            "start_time": s.start_time, "end_time": s.end_time, "user_id": USER_ID,
            "lifecycle_stage": "active", "artifact_uri": f"{loc}/{s.run_id}/artifacts",
            "params": s.params, "tags": {**s.tags, "mlflow.runName": s.name},
        }  # fmt: skip
        wrong = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
        metrics = got.get("metrics", {})
        if set(metrics) != set(s.metrics) or not all(
            same_float(float(metrics[k]), v) for k, v in s.metrics.items()
        ):
            wrong["metrics"] = (metrics, s.metrics)
        if wrong:
            raise BenchError(f"{impl}: get_run({run_id}) differs (got, expected): {wrong}")


# --------------------------------------------------------------------------- datasets


@dataclass
class Store:
    """One store being filled: who runs its queries, where, and how it was loaded."""

    impl: str
    python: Path
    uri: str
    experiment_id: str
    loader: Loader


def load_all(
    count: int, stores: list[Store], chunk: int = 20_000
) -> tuple[dict[str, Expected], dict[str, RunSpec], float]:
    """Generate ``count`` runs once, feed every loader and the oracle; return the expected
    pages, the sample runs (first, first with NaN m0, last) and the generation seconds."""
    expected = {q.name: Expected(q) for q in QUERIES}
    samples: dict[str, RunSpec] = {}
    generating = 0.0
    done = 0
    started = time.perf_counter()
    batches = generate_runs(count, chunk)
    while True:
        t0 = time.perf_counter()
        batch = next(batches, None)
        generating += time.perf_counter() - t0
        if batch is None:
            break
        for store in stores:
            store.loader.add(batch)
        for exp in expected.values():
            exp.add(batch)
        if not samples:
            samples[batch[0].run_id] = batch[0]
            nan_run = next((s for s in batch if math.isnan(s.metrics["m0"])), None)
            if nan_run is not None:
                samples[nan_run.run_id] = nan_run
        last = batch[-1]
        done += len(batch)
        if done % 200_000 == 0 or done == count:
            log(f"  loaded {done:,} runs ({time.perf_counter() - started:.0f} s)")
    samples[last.run_id] = last
    for store in stores:
        store.loader.finish()
    return expected, samples, generating


def reference_spec(path: Path) -> RunSpec:
    """The first generated run, written to ``path`` for the children's reference run."""
    first = next(generate_runs(1))[0]
    path.write_text(json.dumps(spec_to_json(first)))
    return first


@dataclass
class Measured:
    """One implementation's answers and times for every query."""

    impl: str
    version: str
    medians_ms: dict[str, float]
    run_ids: dict[str, list[str]]
    has_next: dict[str, bool]


def measure(store: Store, samples: dict[str, RunSpec], reps: int, cwd: Path) -> Measured:
    """Run the queries in a fresh process; check its ``get_run`` samples."""
    log(f"  {store.impl}: {len(QUERIES)} queries x (1 + {reps}) calls")
    result = run_child(
        store.python,
        ["query", "--impl", store.impl, "--uri", store.uri,
         "--experiment-id", store.experiment_id, "--reps", str(reps),
         "--sample-ids", ",".join(samples)],
        cwd,
        f"{store.impl} queries",
    )  # fmt: skip
    check_samples(store.impl, result["samples"], samples, store.loader.location)
    queries = result["queries"]
    return Measured(
        impl=store.impl,
        version=str(result["version"]),
        medians_ms={n: statistics.median(q["seconds"]) * 1000 for n, q in queries.items()},
        run_ids={n: q["run_ids"] for n, q in queries.items()},
        has_next={n: bool(q["has_next_page"]) for n, q in queries.items()},
    )


def answer_note(measured: Measured, query: Query, exp: Expected) -> str:
    """Return "ok", or how this implementation's page differs from the oracle's."""
    got, want = measured.run_ids[query.name], exp.run_ids()
    more = exp.count > MAX_RESULTS
    if got == want and measured.has_next[query.name] == more:
        return "ok"
    if got == want:
        return "wrong next-page token"
    if sorted(got) == sorted(want):
        first = next(i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b)
        return f"same ids, order differs from #{first}"
    return f"{len(set(got) - set(want))} wrong ids of {len(got)} (expected {len(want)})"


# --------------------------------------------------------------------------- report


def render(header: list[str], body: list[list[str]], numeric: set[int]) -> str:
    """A plain-text table."""
    widths = [max(len(c) for c in col) for col in zip(header, *body, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, body)])


def describe_queries() -> str:
    """What each table line runs."""
    lines = []
    for q in QUERIES:
        order = ", ".join(q.order_by) or "(default order)"
        lines.append(f"  {q.name:<12} {q.filter or '(no filter)'}  |  order_by {order}")
    return "queries (max_results=100):\n" + "\n".join(lines)


def sqlite_table(
    expected: dict[str, Expected], runstack: Measured, mlflow: Measured | None, binding: bool
) -> tuple[str, bool]:
    """The SQLite table, and whether every runstack answer was right and, when ``binding``
    (the target's own data size), the headline passed. Otherwise its verdict ends in "*"."""
    ok = True
    body = []
    for q in QUERIES:
        exp = expected[q.name]
        rs_ms = runstack.medians_ms[q.name]
        rs_note = answer_note(runstack, q, exp)
        ml_ms = mlflow.medians_ms[q.name] if mlflow else None
        ml_note = answer_note(mlflow, q, exp) if mlflow else "-"
        ratio = ml_ms / rs_ms if ml_ms is not None else None
        if q.headline:
            target = f"<= {HEADLINE_MS:g} ms, >= {HEADLINE_RATIO:g}x"
            passed = rs_ms <= HEADLINE_MS and (ratio is None or ratio >= HEADLINE_RATIO)
            verdict = "PASS" if passed and rs_note == "ok" else "FAIL"
            if binding:
                ok = ok and verdict == "PASS"
            else:
                verdict += "*"
        else:
            target, verdict = "-", ("ok" if rs_note == "ok" else "WRONG")
        ok = ok and rs_note == "ok"
        body.append(
            [q.name, f"{exp.count:,}", str(exp.nan_runs()), f"{rs_ms:,.1f}",
             "-" if ml_ms is None else f"{ml_ms:,.1f}",
             "-" if ratio is None else f"{ratio:,.1f}x", target, verdict, rs_note, ml_note]
        )  # fmt: skip
    header = ["query", "matches", "NaN", "runstack ms", "MLflow ms", "ratio", "target",
              "result", "runstack ids", "MLflow ids"]  # fmt: skip
    return render(header, body, {1, 2, 3, 4, 5}), ok


def pg_table(expected: dict[str, Expected], runstack: Measured) -> tuple[str, bool]:
    """The PostgreSQL table (runstack only; the 50 ms bar is shown for reference)."""
    ok = True
    body = []
    for q in QUERIES:
        note = answer_note(runstack, q, expected[q.name])
        ok = ok and note == "ok"
        ms = runstack.medians_ms[q.name]
        body.append(
            [q.name, f"{expected[q.name].count:,}", str(expected[q.name].nan_runs()), f"{ms:,.1f}",
             "yes" if ms <= HEADLINE_MS else "no", note]
        )  # fmt: skip
    header = ["query", "matches", "NaN", "runstack ms", "<= 50 ms", "ids"]
    return render(header, body, {1, 2, 3}), ok


# --------------------------------------------------------------------------- phases


def init_store(
    impl: str, python: Path, uri: str, cwd: Path, scratch_uri: str | None, spec_path: Path
) -> dict[str, Any]:
    """Create the experiment (and the schema) through the library's API."""
    args = ["init", "--impl", impl, "--uri", uri]
    if scratch_uri:
        args += ["--scratch-uri", scratch_uri, "--spec", str(spec_path)]
    return run_child(python, args, cwd, f"{impl} init")


def sqlite_phase(
    args: argparse.Namespace, pythons: dict[str, Path], workdir: Path
) -> tuple[str, bool, dict[str, Any]]:
    """Load ``--runs`` runs into a SQLite store per implementation and query both."""
    spec_path = workdir / "reference.json"
    first = reference_spec(spec_path)
    stores: list[Store] = []
    inits: dict[str, dict[str, Any]] = {}
    for impl, python in pythons.items():
        db, scratch = workdir / f"{impl}.db", workdir / f"{impl}-reference.db"
        init = init_store(impl, python, f"sqlite:///{db}", workdir, f"sqlite:///{scratch}",
                          spec_path)  # fmt: skip
        inits[impl] = init
        loader_class = RunstackSqliteLoader if impl == "runstack" else MlflowSqliteLoader
        loader = loader_class(db, int(init["experiment_id"]), str(init["artifact_location"]))
        stores.append(Store(impl, python, f"sqlite:///{db}", str(init["experiment_id"]), loader))
    log(f"SQLite: loading {args.runs:,} runs into {', '.join(pythons)}")
    expected, samples, generating = load_all(args.runs, stores)
    for store in stores:
        db = workdir / f"{store.impl}.db"
        check_rows_like_api(store.impl, db, workdir / f"{store.impl}-reference.db",
                            inits[store.impl], first)  # fmt: skip
    log("SQLite: bulk-loaded rows match API-logged rows; querying")
    measured = {s.impl: measure(s, samples, args.reps, workdir) for s in stores}
    binding = args.runs >= TARGET_RUNS
    table, ok = sqlite_table(expected, measured["runstack"], measured.get("mlflow"), binding)
    lines = [
        f"SQLite, {args.runs:,} runs x (3 params, 3 metrics, 3 tags + mlflow.runName), "
        f"max_results={MAX_RESULTS}, median of {args.reps} calls after 1 warm-up, "
        "fresh process per implementation",
        f"  generation {generating:.1f} s (once, shared); load = insert + commit"
        " (MLflow: + ANALYZE)",
    ]
    for store in stores:
        size = (workdir / f"{store.impl}.db").stat().st_size / 1e6
        lines.append(
            f"  {store.impl:<8} {measured[store.impl].version:<12} load "
            f"{store.loader.seconds:6.1f} s  database {size:,.0f} MB"
        )
    lines += ["", table, LEGEND]
    if not binding:
        lines.append(
            f"*: the target is stated for {TARGET_RUNS:,} runs; with fewer it does not decide"
            " the exit status"
        )
    lines.append(describe_queries())
    report = {
        "runs": args.runs,
        "load_seconds": {s.impl: s.loader.seconds for s in stores},
        "generation_seconds": generating,
        "medians_ms": {impl: m.medians_ms for impl, m in measured.items()},
        "matches": {name: e.count for name, e in expected.items()},
    }
    return "\n".join(lines), ok, report


def pg_phase(
    args: argparse.Namespace, python: Path, workdir: Path
) -> tuple[str, bool, dict[str, Any]]:
    """Load ``--pg-runs`` runs into a fresh PostgreSQL database and query it (runstack)."""
    import psycopg

    name = f"runstack_bench_{uuid.uuid4().hex[:8]}"
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            server = admin.execute("SHOW server_version").fetchone()
            admin.execute(f"CREATE DATABASE {name}")
    except psycopg.Error as exc:
        raise BenchError(f"PostgreSQL at {PG_ADMIN_URL}: {exc} (skip it with --pg-runs 0)") from exc
    try:
        init = init_store("runstack", python, url, workdir, None, workdir / "unused.json")
        loader = RunstackPostgresLoader(
            url, int(init["experiment_id"]), str(init["artifact_location"])
        )
        store = Store("runstack", python, url, str(init["experiment_id"]), loader)
        log(f"PostgreSQL: loading {args.pg_runs:,} runs into {name}")
        expected, samples, generating = load_all(args.pg_runs, [store], chunk=50_000)
        with psycopg.connect(url) as connection:
            size_row = connection.execute("SELECT pg_database_size(current_database())").fetchone()
        size = (size_row[0] if size_row else 0) / 1e6
        measured = measure(store, samples, args.reps, workdir)
    finally:
        if args.keep:
            log(
                f"kept PostgreSQL database {name} (drop it with: dropdb -h 127.0.0.1 -U postgres"
                f" {name})"
            )
        else:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    table, ok = pg_table(expected, measured)
    lines = [
        f"PostgreSQL {server[0] if server else '?'}, {args.pg_runs:,} runs, runstack only, "
        f"median of {args.reps} calls after 1 warm-up",
        f"  generation {generating:.1f} s; load (COPY + commit + VACUUM ANALYZE)"
        f" {loader.seconds:.1f} s; database {size:,.0f} MB",
        "",
        table,
    ]
    report = {
        "runs": args.pg_runs,
        "load_seconds": loader.seconds,
        "generation_seconds": generating,
        "database_mb": size,
        "medians_ms": measured.medians_ms,
        "matches": {n: e.count for n, e in expected.items()},
    }
    return "\n".join(lines), ok, report


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description="search_runs benchmark: runstack vs MLflow")
    parser.add_argument("--runs", type=int, help="SQLite runs (default 100000, --quick 20000)")
    parser.add_argument(
        "--pg-runs", type=int, help="PostgreSQL runs (default 1000000, --quick 100000; 0 skips)"
    )
    parser.add_argument("--skip-mlflow", action="store_true", help="runstack alone on SQLite")
    parser.add_argument("--quick", action="store_true", help="smaller data sets")
    parser.add_argument("--reps", type=int, default=7, help="timed calls per query (default 7)")
    parser.add_argument(
        "--keep", action="store_true", help="keep the SQLite files and the PostgreSQL database"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write figures to PATH")
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 20_000 if args.quick else 100_000
    if args.pg_runs is None:
        args.pg_runs = 100_000 if args.quick else 1_000_000
    if args.runs < 1 or args.pg_runs < 0 or args.reps < 1:
        parser.error("--runs and --reps must be at least 1, --pg-runs at least 0")
    return args


def main(argv: list[str]) -> int:
    """Run the SQLite phase, then the PostgreSQL phase; print both tables."""
    args = parse_args(argv)
    WORK_ROOT.mkdir(exist_ok=True)
    free_gb = shutil.disk_usage(WORK_ROOT).free / 1e9
    if free_gb < MIN_FREE_GB:
        log(f"bench_search: only {free_gb:.1f} GB free under {WORK_ROOT}; need {MIN_FREE_GB} GB")
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="search-", dir=WORK_ROOT))
    load_before = os.getloadavg()[0]
    reports: dict[str, Any] = {}
    ok = True
    try:
        pythons = {"runstack": Path(sys.executable)}
        if not args.skip_mlflow:
            pythons["mlflow"] = ensure_mlflow_venv()
        text, passed, reports["sqlite"] = sqlite_phase(args, pythons, workdir)
        print(text + "\n", flush=True)
        ok = ok and passed
        if args.pg_runs:
            text, passed, reports["postgresql"] = pg_phase(args, pythons["runstack"], workdir)
            print(text + "\n", flush=True)
            ok = ok and passed
    except (BenchError, subprocess.TimeoutExpired) as exc:
        log(f"bench_search: {exc}")
        return 2
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"machine: {os.cpu_count()} CPUs, 1-min load average {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after; MLflow {MLFLOW_VERSION} in benchmarks/.venv-mlflow"
    )
    if args.json:
        args.json.write_text(json.dumps(reports, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
