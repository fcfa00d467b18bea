"""Helpers for the search tests: throwaway databases, direct row inserts, plan-checked search.

Not a test module itself (it holds no tests); it is named ``test_search_*`` only to live next
to the tests that use it. Rows are written with SQLAlchemy Core straight into the schema
tables, so these tests depend on nothing but ``runstack.store.sql.query`` and the schema.

PostgreSQL: ``RUNSTACK_TEST_POSTGRES_URI`` (default postgres@127.0.0.1:5432) as in conftest;
each database is created for the test module or test and dropped afterwards. When the server
is unreachable the PostgreSQL variants are skipped with the reason (or fail when
``RUNSTACK_REQUIRE_POSTGRES`` is set).
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from runstack.entities import ViewType
from runstack.store.sql import schema
from runstack.store.sql.query import RunSearchQuery, build_experiment_search, build_run_search
from runstack.store.sql.query.plan_choice import candidate_plans

BACKENDS = ["sqlite", "postgresql"]
POSTGRES_ADMIN_URI = os.environ.get(
    "RUNSTACK_TEST_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/postgres"
).replace("postgresql+psycopg://", "postgresql://")
_postgres_reason: list[str | None] = []


def postgres_skip_reason() -> str | None:
    """Why PostgreSQL cannot be used, or None; checked once per session."""
    if not _postgres_reason:
        reason = None
        try:
            import psycopg

            with psycopg.connect(POSTGRES_ADMIN_URI, connect_timeout=3):
                pass
        except Exception as error:
            reason = f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URI} ({error})"
        _postgres_reason.append(reason)
    return _postgres_reason[0]


@contextmanager
def fresh_engine(backend: str, folder: Path) -> Iterator[sa.Engine]:
    """An engine on a new database holding the runstack schema; dropped afterwards."""
    if backend == "sqlite":
        engine = sa.create_engine(f"sqlite:///{folder}/search-{uuid.uuid4().hex[:8]}.db")
        schema.metadata.create_all(engine)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    reason = postgres_skip_reason()
    if reason:
        if os.environ.get("RUNSTACK_REQUIRE_POSTGRES"):
            pytest.fail(reason)
        pytest.skip(reason)
    import psycopg

    name = f"runstack_search_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URI, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URI.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    engine = sa.create_engine(f"{base}/{name}")
    try:
        schema.metadata.create_all(engine)
        yield engine
    finally:
        engine.dispose()
        with psycopg.connect(POSTGRES_ADMIN_URI, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class RunSpec:
    run_id: str
    experiment_id: int = 1
    name: str = "run"
    start_time: int = 0
    end_time: int | None = None
    status: str = "FINISHED"
    user_id: str = "user"
    artifact_uri: str = "file:///artifacts"
    lifecycle_stage: str = "active"
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    # Dataset inputs as (name, digest, context or None); shared by (name, digest) per experiment.
    datasets: list[tuple[str, str, str | None]] = field(default_factory=list)


def metric_columns(value: float) -> dict[str, Any]:
    """How the store encodes a metric value: NaN as NULL, -0.0 with its own kind."""
    if math.isnan(value):
        return {"value": None, "value_kind": schema.VALUE_KIND_NAN}
    if value == 0 and math.copysign(1.0, value) < 0:
        return {"value": 0.0, "value_kind": schema.VALUE_KIND_NEGATIVE_ZERO}
    return {"value": value, "value_kind": schema.VALUE_KIND_NUMBER}


def insert_experiment(
    connection: sa.Connection,
    experiment_id: int,
    name: str,
    creation_time: int = 0,
    lifecycle_stage: str = "active",
    tags: dict[str, str] | None = None,
    last_update_time: int | None = None,
) -> None:
    connection.execute(
        sa.insert(schema.experiments),
        {
            "experiment_id": experiment_id,
            "name": name,
            "lifecycle_stage": lifecycle_stage,
            "creation_time": creation_time,
            "last_update_time": creation_time if last_update_time is None else last_update_time,
        },
    )
    for key, value in (tags or {}).items():
        connection.execute(
            sa.insert(schema.experiment_tags),
            {"experiment_id": experiment_id, "key": key, "value": value},
        )


def insert_runs(connection: sa.Connection, runs: Sequence[RunSpec]) -> None:
    run_rows, params, tags, metrics = [], [], [], []
    for run in runs:
        run_rows.append(
            {
                "run_id": run.run_id,
                "experiment_id": run.experiment_id,
                "name": run.name,
                "user_id": run.user_id,
                "status": run.status,
                "start_time": run.start_time,
                "end_time": run.end_time,
                "artifact_uri": run.artifact_uri,
                "lifecycle_stage": run.lifecycle_stage,
                "deleted_with_experiment": False,
            }
        )
        params += [{"run_id": run.run_id, "key": k, "value": v} for k, v in run.params.items()]
        tags += [{"run_id": run.run_id, "key": k, "value": v} for k, v in run.tags.items()]
        metrics += [
            {"run_id": run.run_id, "key": k, "timestamp": 1, "step": 0, **metric_columns(v)}
            for k, v in run.metrics.items()
        ]
    for table, rows in (
        (schema.runs, run_rows),
        (schema.params, params),
        (schema.tags, tags),
        (schema.latest_metrics, metrics),
    ):
        if rows:
            connection.execute(sa.insert(table), rows)
    insert_dataset_inputs(connection, runs)


def insert_dataset_inputs(connection: sa.Connection, runs: Sequence[RunSpec]) -> None:
    """The runs' dataset inputs, with one ``datasets`` row per (experiment, name, digest)."""
    dataset_ids: dict[tuple[int, str, str], int] = {}
    for run in runs:
        for name, digest, context in run.datasets:
            key = (run.experiment_id, name, digest)
            if key not in dataset_ids:
                dataset_ids[key] = len(dataset_ids) + 1
                connection.execute(
                    sa.insert(schema.datasets),
                    {
                        "dataset_id": dataset_ids[key],
                        "experiment_id": run.experiment_id,
                        "name": name,
                        "digest": digest,
                        "source_type": "code",
                        "source": "{}",
                    },
                )
            input_id = connection.execute(
                sa.insert(schema.run_inputs)
                .values(run_id=run.run_id, dataset_id=dataset_ids[key])
                .returning(schema.run_inputs.c.input_id)
            ).scalar_one()
            if context is not None:
                connection.execute(
                    sa.insert(schema.input_tags),
                    {"input_id": input_id, "key": "mlflow.data.context", "value": context},
                )


def search_runs(
    engine: sa.Engine,
    filter_text: str | None = None,
    order_by: list[str] | None = None,
    experiment_ids: Sequence[int] = (1,),
    view_type: ViewType = ViewType.ACTIVE_ONLY,
    max_results: int = 1000,
) -> list[str]:
    """The ids on the first page; every statement shape must return exactly the same list."""
    query = build_run_search(
        list(experiment_ids), filter_text, view_type, max_results, order_by, None
    )
    return page_ids_all_plans(engine, query)[0]


def page_ids_all_plans(engine: sa.Engine, query: RunSearchQuery) -> tuple[list[str], str | None]:
    with engine.connect() as connection:
        chosen = query.fetch_page(connection)
        for plan in candidate_plans(query.parts):
            forced = query.fetch_page(connection, plan)
            assert forced == chosen, f"plan {plan} disagrees with the chosen plan"
    return chosen.run_ids, chosen.next_page_token


def all_run_pages(
    engine: sa.Engine,
    filter_text: str | None,
    order_by: list[str] | None,
    page_size: int,
    experiment_ids: Sequence[int] = (1,),
) -> list[list[str]]:
    """Every page in turn, following the tokens."""
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        query = build_run_search(
            list(experiment_ids), filter_text, ViewType.ACTIVE_ONLY, page_size, order_by, token
        )
        ids, token = page_ids_all_plans(engine, query)
        pages.append(ids)
        if token is None:
            return pages


def search_experiment_ids(
    engine: sa.Engine,
    filter_text: str | None = None,
    order_by: list[str] | None = None,
    view_type: ViewType = ViewType.ACTIVE_ONLY,
    max_results: int = 1000,
    page_token: str | None = None,
) -> tuple[list[int], str | None]:
    query = build_experiment_search(filter_text, view_type, max_results, order_by, page_token)
    with engine.connect() as connection:
        page = query.fetch_page(connection)
    return page.experiment_ids, page.next_page_token
