"""The statement shapes' special paths, on SQLite and PostgreSQL.

- Clauses ANDed on the first order key bound the ordered plan's index walk and rule out rank
  segments (NaN, missing): every shape must still return the same pages, equal to a model.
- Exact param/tag lookups take each database's indexed form (``INDEXED BY`` on SQLite,
  ``left(value, 200)`` on PostgreSQL) and stay exact for long and multi-byte values.
- The SQLite planner's choices, and the probes it spends on them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from runstack.entities import ViewType
from runstack.filters.parser import parse_run_filter
from runstack.store.sql.query import build_run_search, plan_choice
from runstack.store.sql.query.plan_choice import choose_plan
from runstack.store.sql.query.plans import segment_statement, split_filter
from test_search_support import (
    BACKENDS,
    RunSpec,
    all_run_pages,
    fresh_engine,
    insert_experiment,
    insert_runs,
    search_runs,
)

NAN = math.nan


def walk_runs(count: int = 60, seed: int = 3) -> list[RunSpec]:
    """Many ties, NaN, -0.0 and missing keys, so segments and page boundaries interleave."""
    rng = random.Random(seed)
    runs = []
    for index in range(count):
        metric = rng.choice([0.1, 0.2, 0.2, 0.3, 0.45, -0.0, 0.0, NAN, None])
        param = rng.choice(["a", "b", "B", "ab", None])
        runs.append(
            RunSpec(
                f"w{index:02d}",
                start_time=rng.choice([10, 20, 30]),
                metrics={} if metric is None else {"m": metric, "n": rng.random()},
                params={} if param is None else {"p": param},
                tags={"t": rng.choice(["u", "v"])},
            )
        )
    return runs


RUNS = walk_runs()


@pytest.fixture(scope="module", params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sa.Engine]:
    with fresh_engine(request.param, tmp_path_factory.mktemp("plans")) as engine:
        with engine.begin() as connection:
            insert_experiment(connection, 1, "one")
            insert_runs(connection, RUNS)
        yield engine


def metric_rank(run: RunSpec, key: str, descending: bool) -> tuple[int, float]:
    value = run.metrics.get(key)
    if value is None:
        return (2, 0.0)
    if math.isnan(value):
        return (1, 0.0)
    return (0, -value if descending else value)


def param_rank(run: RunSpec, key: str, descending: bool) -> tuple[int, tuple[int, ...]]:
    value = run.params.get(key)
    if value is None:
        return (1, ())
    points = tuple(ord(c) for c in value)  # code-point order, as both backends sort
    return (0, (*(-p for p in points), 1) if descending else points)


def model(match: Callable[[RunSpec], bool], key: Callable[[RunSpec], Any]) -> list[str]:
    """Matching runs by ``key``, then start_time DESC, then run_id."""
    chosen = [run for run in RUNS if match(run)]
    chosen.sort(key=lambda run: run.run_id)
    chosen.sort(key=lambda run: -run.start_time)
    chosen.sort(key=key)
    return [run.run_id for run in chosen]


def m(run: RunSpec) -> float | None:
    return run.metrics.get("m")


def real(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def p(run: RunSpec) -> str | None:
    return run.params.get("p")


ON_KEY_CASES: list[tuple[str, list[str], Callable[[RunSpec], bool], Callable[[RunSpec], Any]]] = [
    ("metrics.m >= 0.2 and metrics.m < 0.45", ["metrics.m"],
     lambda r: real(m(r)) and 0.2 <= m(r) < 0.45, lambda r: metric_rank(r, "m", False)),  # type: ignore[operator]
    ("metrics.m >= 0.2 and metrics.m < 0.45", ["metrics.m DESC"],
     lambda r: real(m(r)) and 0.2 <= m(r) < 0.45, lambda r: metric_rank(r, "m", True)),  # type: ignore[operator]
    ("metrics.m > 0.1 and metrics.m <= 0.1", ["metrics.m"], lambda r: False, lambda r: 0),
    ("metrics.m = 0", ["metrics.m DESC"],
     lambda r: real(m(r)) and m(r) == 0, lambda r: metric_rank(r, "m", True)),
    ("metrics.m != 0.2", ["metrics.m"],  # NaN passes !=, a missing metric does not
     lambda r: m(r) is not None and m(r) != 0.2, lambda r: metric_rank(r, "m", False)),
    ("metrics.m != 0.2 and metrics.m > 0", ["metrics.m DESC"],
     lambda r: real(m(r)) and m(r) > 0 and m(r) != 0.2, lambda r: metric_rank(r, "m", True)),  # type: ignore[operator]
    ("metrics.m > 0.25 or params.p = 'a'", ["metrics.m"],  # OR: NaN and missing can match
     lambda r: (real(m(r)) and m(r) > 0.25) or p(r) == "a", lambda r: metric_rank(r, "m", False)),  # type: ignore[operator]
    ("not metrics.m > 0.25", ["metrics.m DESC"],
     lambda r: not (real(m(r)) and m(r) > 0.25), lambda r: metric_rank(r, "m", True)),  # type: ignore[operator]
    ("metrics.m >= 0.2 and tags.t = 'u'", ["metrics.m DESC"],
     lambda r: real(m(r)) and m(r) >= 0.2 and r.tags["t"] == "u",  # type: ignore[operator]
     lambda r: metric_rank(r, "m", True)),
    ("metrics.n > 0.5 and metrics.m > 0.1", ["metrics.n"],  # bound on another metric
     lambda r: "n" in r.metrics and r.metrics["n"] > 0.5 and real(m(r)) and m(r) > 0.1,  # type: ignore[operator]
     lambda r: metric_rank(r, "n", False)),
    ("params.p = 'a'", ["params.p"], lambda r: p(r) == "a", lambda r: param_rank(r, "p", False)),
    ("params.p in ('a', 'B')", ["params.p DESC"],
     lambda r: p(r) in ("a", "B"), lambda r: param_rank(r, "p", True)),
    ("params.p != 'a'", ["params.p"],
     lambda r: p(r) not in (None, "a"), lambda r: param_rank(r, "p", False)),
    ("params.p like 'a%' and metrics.m > 0", ["params.p DESC"],
     lambda r: (p(r) or "").startswith("a") and real(m(r)) and m(r) > 0,  # type: ignore[operator]
     lambda r: param_rank(r, "p", True)),
    ("params.p is null", ["params.p"], lambda r: p(r) is None, lambda r: param_rank(r, "p", False)),
    ("params.p is not null", ["params.p DESC"],
     lambda r: p(r) is not None, lambda r: param_rank(r, "p", True)),
    ("params.p is null and params.p = 'a'", ["params.p"], lambda r: False, lambda r: 0),
    ("params.p is null or params.p = 'b'", ["params.p"],
     lambda r: p(r) in (None, "b"), lambda r: param_rank(r, "p", False)),
]  # fmt: skip


@pytest.mark.parametrize(("filter_text", "order_by", "match", "key"), ON_KEY_CASES)
def test_clauses_on_the_order_key(
    engine: sa.Engine,
    filter_text: str,
    order_by: list[str],
    match: Callable[[RunSpec], bool],
    key: Callable[[RunSpec], Any],
) -> None:
    expected = model(match, key)
    assert search_runs(engine, filter_text, order_by) == expected
    for size in (1, 4, 7):
        pages = all_run_pages(engine, filter_text, order_by, size)
        assert [run for page in pages for run in page] == expected, size


def test_ranks_follow_nan_and_missing_rules() -> None:
    def ranks(text: str, entity: str = "metric", key: str = "m") -> list[int]:
        max_rank = 2 if entity == "metric" else 1
        return split_filter(parse_run_filter(text), entity, key).ranks(max_rank)

    assert ranks("metrics.m > 1") == [0]
    assert ranks("metrics.m != 1") == [0, 1]
    assert ranks("metrics.m > 1 and metrics.m != 2") == [0]
    assert ranks("metrics.x > 1") == [0, 1, 2]
    assert ranks("metrics.m > 1 or metrics.n > 1") == [0, 1, 2]
    assert ranks("not metrics.m > 1") == [0, 1, 2]
    assert ranks("params.p = 'a'", "param", "p") == [0]
    assert ranks("params.p IS NULL", "param", "p") == [1]
    assert ranks("params.p IS NOT NULL", "param", "p") == [0]
    assert ranks("params.p IS NULL and params.p LIKE 'a%'", "param", "p") == []


def test_bounds_reach_the_walk_and_leave_the_lookups() -> None:
    query = build_run_search(
        [1], "metrics.m >= 0.25 and metrics.m < 0.5 and params.p = 'a'", ViewType.ACTIVE_ONLY,
        10, ["metrics.m"], None,
    )  # fmt: skip
    sql = str(segment_statement(query.parts, 0, 11).compile(dialect=sqlite.dialect()))
    assert "order_0.value >= ?" in sql and "order_0.value < ?" in sql
    assert sql.count("EXISTS") == 1  # only the param clause is still a lookup


def test_exact_lookups_take_each_databases_indexed_form() -> None:
    query = build_run_search(
        [1], "params.p = 'a' and tags.t IN ('u', 'v') and params.q != 'b'", ViewType.ALL, 10,
        None, None,
    )  # fmt: skip
    lite = str(query.statement.compile(dialect=sqlite.dialect()))
    assert lite.count("INDEXED BY ix_params_key_value") == 1  # not for !=
    assert "INDEXED BY ix_tags_key_value" not in lite  # two values: the primary key is cheaper
    assert "left(" not in lite
    pg = str(query.statement.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]
    assert "INDEXED BY" not in pg
    assert "left(params_1.value, 200) = left(" in pg
    assert "left(tags.value, 200) IN (left(" in pg
    assert "params.value != " in pg  # != is not an exact lookup


@pytest.mark.parametrize(
    "filter_text",
    [
        "metrics.m1 > 0.5 and tags.t LIKE 'a%' and params.p0 = 'v3' and status = 'FINISHED'",
        "params.p0 = 'v3' and status = 'FINISHED' and tags.t LIKE 'a%' and metrics.m1 > 0.5",
    ],
)
def test_cheap_lookups_are_tested_first(filter_text: str) -> None:
    """SQLite tests ANDed lookups in the order written; one descent before two."""
    query = build_run_search([1], filter_text, ViewType.ALL, 10, ["metrics.m2"], None)
    sql = str(segment_statement(query.parts, 0, 11).compile(dialect=sqlite.dialect()))
    where = sql[sql.index("WHERE") :]
    status, one_value = where.index("runs.status"), where.index("ix_params_key_value")
    assert status < one_value < min(where.index("GLOB"), where.index("> ?"))


LONG = "x" * 200
VALUES = [
    LONG[:199], LONG, LONG + "a", LONG + "b", "é" * 99, "é" * 100, "é" * 150, "é" * 200,
    "é" * 200 + "z", "é" * 250, "short",
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_long_and_multibyte_values_match_exactly(backend: str, tmp_path: Path) -> None:
    runs = [
        RunSpec(f"v{i:02d}", start_time=i, params={"p": value}, tags={"t": value})
        for i, value in enumerate(VALUES)
    ]
    with fresh_engine(backend, tmp_path) as engine:
        with engine.begin() as connection:
            insert_experiment(connection, 1, "one")
            insert_runs(connection, runs)
        for index, value in enumerate(VALUES):
            literal = value.replace("'", "''")
            for text in (f"params.p = '{literal}'", f"tags.t IN ('{literal}', 'none')"):
                assert search_runs(engine, text) == [f"v{index:02d}"], (backend, text)
                assert search_runs(engine, text, ["params.p"]) == [f"v{index:02d}"]
        both = f"params.p IN ('{LONG}a', '{LONG}')"
        assert search_runs(engine, both) == ["v02", "v01"]


@pytest.mark.slow
def test_postgres_uses_the_prefix_index(tmp_path: Path) -> None:
    runs = [
        RunSpec(f"r{i:05d}", start_time=i, params={"p": f"v{i % 500}", "q": "same"})
        for i in range(5000)
    ]
    with fresh_engine("postgresql", tmp_path) as engine:
        with engine.begin() as connection:
            insert_experiment(connection, 1, "one")
            insert_runs(connection, runs)
        query = build_run_search([1], "params.p = 'v7'", ViewType.ACTIVE_ONLY, 100, None, None)
        sql = str(
            query.statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
        )
        with engine.connect() as connection:
            connection.execute(sa.text("ANALYZE"))
            plan = "\n".join(row[0] for row in connection.execute(sa.text("EXPLAIN " + sql)))
        assert "ix_params_key_prefix" in plan, plan
        expected = [f"r{i:05d}" for i in range(4507, 0, -500)]
        assert search_runs(engine, "params.p = 'v7'") == expected


class CountingExecutor:
    """Runs statements on a connection and counts them."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect
        self.statements = 0

    def all(self, statement: Any) -> list[Any]:
        self.statements += 1
        return list(self.connection.execute(statement))


def planner_runs(count: int, experiment_id: int, seed: int) -> list[RunSpec]:
    """The benchmark's distributions: p0 10 values, p2 100, t1 20; metrics uniform."""
    rng = random.Random(seed)
    return [
        RunSpec(
            f"e{experiment_id}-{i:04d}",
            experiment_id=experiment_id,
            start_time=i,
            params={"p0": f"v{rng.randrange(10)}", "p2": f"c{rng.randrange(100)}"},
            metrics={"m0": rng.random(), "m1": rng.random(), "m2": rng.random()},
            tags={"t1": f"g{rng.randrange(20)}"},
        )
        for i in range(count)
    ]


@pytest.fixture(scope="module")
def planner_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    """2,000 runs in experiment 1, 200 in experiment 2 (1/50 of the benchmark's 100,000)."""
    with fresh_engine("sqlite", tmp_path_factory.mktemp("planner")) as engine:
        with engine.begin() as connection:
            insert_experiment(connection, 1, "big")
            insert_experiment(connection, 2, "small")
            insert_runs(connection, planner_runs(2000, 1, seed=9) + planner_runs(200, 2, seed=10))
        yield engine


@pytest.fixture
def scaled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe thresholds scaled like the data (max_results 1 plays the part of 100)."""
    monkeypatch.setattr(plan_choice, "SMALL_DRIVER", 40)
    monkeypatch.setattr(plan_choice, "PROBE_CAP", 400)


PLANNER_CASES = [
    # A range on the order key bounds the walk: ordered, without a single probe.
    ("metrics.m0 >= 0.25 and metrics.m0 < 0.3", ["metrics.m0"], 1, "ordered", None, 0),
    # ~10% and ~50%: walking m2 in order fills the page soonest (p0, m1, table size, scope).
    ("params.p0 = 'v3' and metrics.m1 > 0.5", ["metrics.m2 DESC"], 1, "ordered", None, 4),
    # ...but not in a small experiment: the walk would mostly read other experiments' runs.
    ("params.p0 = 'v3' and metrics.m1 > 0.5", ["metrics.m2 DESC"], 2, "driven", "p0", 4),
    # A 1% clause: its few candidates are cheaper than any walk.
    ("tags.t1 = 'g7' and params.p2 = 'c17'", ["metrics.m0 DESC"], 1, "driven", "p2", 2),
    ("params.p2 = 'c42'", None, 1, "driven", "p2", 1),
    # The order key's own range is small: ordered, whatever the other clauses.
    ("metrics.m0 > 0.99 and params.p0 = 'v1'", ["metrics.m0 DESC"], 1, "ordered", None, 1),
    ("run_id = 'e1-0001' and params.p0 = 'v1'", ["metrics.m0"], 1, "generic", None, 0),
]


@pytest.mark.usefixtures("scaled")
@pytest.mark.parametrize(
    ("filter_text", "order_by", "experiment", "kind", "driver_key", "probes"), PLANNER_CASES
)
def test_sqlite_planner_choices(
    planner_engine: sa.Engine,
    filter_text: str,
    order_by: list[str] | None,
    experiment: int,
    kind: str,
    driver_key: str | None,
    probes: int,
) -> None:
    query = build_run_search([experiment], filter_text, ViewType.ACTIVE_ONLY, 1, order_by, None)
    with planner_engine.connect() as connection:
        executor = CountingExecutor(connection)
        plan = choose_plan(query.parts, executor)
    assert plan.kind == kind
    if driver_key is not None:
        assert plan.driver is not None and plan.driver[0].field.key == driver_key
    assert executor.statements == probes
    search_runs(planner_engine, filter_text, order_by, [experiment], max_results=1)


@pytest.mark.parametrize(
    ("experiments", "needed", "reaches"),
    [
        ((1,), 500, True),  # counted inside the scope, up to 500
        ((1,), 1900, True),  # counted outside: 200 runs, so 2,000 inside
        ((1,), 2100, False),
        ((2,), 150, True),
        ((2,), 250, False),
        ((1, 2), 2150, True),  # nothing outside
        ((2, 5), 1500, False),  # outside: below 2, between 2 and 5, above 5
    ],
)
def test_scope_is_counted_from_the_cheaper_side(
    planner_engine: sa.Engine, experiments: tuple[int, ...], needed: int, reaches: bool
) -> None:
    query = build_run_search(list(experiments), None, ViewType.ALL, 1, None, None)
    with planner_engine.connect() as connection:
        executor = CountingExecutor(connection)
        table_runs = plan_choice._table_runs(executor)
        assert table_runs == 2200
        assert plan_choice._scope_reaches(query.parts, executor, table_runs, needed) is reaches
