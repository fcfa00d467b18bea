"""search_runs filters and ordering against real databases (SQLite and PostgreSQL).

One small, hand-made data set; every expectation below was worked out by hand from it. Each
search is also run with every statement shape the planner could pick, which must all agree.

    id  exp name         start end   status    user   stage    params            tags                     metrics
    a   1   Alpha        1000  1100  FINISHED  alice  active   lr=0.1 opt=adam   team=ml, runName=Alpha   acc=0.9  loss=0.2
    b   1   beta         2000  -     RUNNING   bob    active   lr=0.01 opt=sgd   team=ML                  acc=0.5  loss=NaN
    c   1   gamma        3000  3500  FAILED    alice  active   lr=0.1            "my tag"="x y"           acc=NaN
    d   1   Delta        3000  3200  FINISHED  carol  active   opt=Adam          team=ml_ops              acc=-0.0 loss=5
    e   1   epsilon      4000  4100  FINISHED  bob    deleted  lr=0.1                                     acc=0.95
    f   2   zeta         5000  5100  FINISHED  alice  active   lr=0.1                                     acc=0.7
    g   1   eta_[1]*?    500   600   KILLED    dave   active
"""  # noqa: E501

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from runstack.entities import ViewType
from runstack.errors import InvalidParameterError
from runstack.store.sql.query import build_run_search
from test_search_support import (
    BACKENDS,
    RunSpec,
    fresh_engine,
    insert_experiment,
    insert_runs,
    search_runs,
)

NAN = math.nan
RUNS = [
    RunSpec("a", 1, "Alpha", 1000, 1100, "FINISHED", "alice", params={"lr": "0.1", "opt": "adam"},
            tags={"team": "ml", "mlflow.runName": "Alpha"}, metrics={"acc": 0.9, "loss": 0.2}),
    RunSpec("b", 1, "beta", 2000, None, "RUNNING", "bob", params={"lr": "0.01", "opt": "sgd"},
            tags={"team": "ML"}, metrics={"acc": 0.5, "loss": NAN}),
    RunSpec("c", 1, "gamma", 3000, 3500, "FAILED", "alice", params={"lr": "0.1"},
            tags={"my tag": "x y"}, metrics={"acc": NAN}),
    RunSpec("d", 1, "Delta", 3000, 3200, "FINISHED", "carol", params={"opt": "Adam"},
            tags={"team": "ml_ops"}, metrics={"acc": -0.0, "loss": 5.0}),
    RunSpec("e", 1, "epsilon", 4000, 4100, "FINISHED", "bob", lifecycle_stage="deleted",
            params={"lr": "0.1"}, metrics={"acc": 0.95}),
    RunSpec("f", 2, "zeta", 5000, 5100, "FINISHED", "alice", params={"lr": "0.1"},
            metrics={"acc": 0.7}),
    RunSpec("g", 1, "eta_[1]*?", 500, 600, "KILLED", "dave"),
]  # fmt: skip
DEFAULT_ORDER = ["c", "d", "b", "a", "g"]


@pytest.fixture(scope="module", params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sa.Engine]:
    folder: Path = tmp_path_factory.mktemp("search-runs")
    with fresh_engine(request.param, folder) as engine:
        with engine.begin() as connection:
            insert_experiment(connection, 1, "exp1")
            insert_experiment(connection, 2, "exp2")
            insert_runs(connection, RUNS)
        yield engine


FILTERS = [
    # metrics: numeric comparators on the latest value; NaN fails all but !=
    ("metrics.acc > 0.5", ["a"]),
    ("metrics.acc >= 0.5", ["b", "a"]),
    ("metrics.acc < 0.5", ["d"]),
    ("metrics.acc <= 0.5", ["d", "b"]),
    ("metrics.acc = 0", ["d"]),
    ("metric.acc = 0.9", ["a"]),
    ("metrics.acc != 0.5", ["c", "d", "a"]),
    ("metrics.loss != 0.2", ["d", "b"]),
    ("metrics.acc > -1e3", ["d", "b", "a"]),
    ("metrics.acc > 9E-1", []),
    ("metrics.missing >= 0", []),
    # numeric attributes, created alias, NULL end_time
    ("created > 1000", ["c", "d", "b"]),
    ("attributes.start_time = 3000", ["c", "d"]),
    ("start_time != 3000", ["b", "a", "g"]),
    ("run.start_time <= 1000", ["a", "g"]),
    ("attr.start_time < 1000.5", ["a", "g"]),
    ("end_time < 3300", ["d", "a", "g"]),
    ("end_time != 3200", ["c", "a", "g"]),
    ("NOT end_time > 1000", ["b", "g"]),
    # duration (runstack's): end_time - start_time, none while RUNNING
    ("attributes.duration > 100", ["c", "d"]),
    ("duration <= 100", ["a", "g"]),
    ("NOT duration > 150", ["b", "a", "g"]),
    # params: = != LIKE ILIKE IN NOT IN IS [NOT] NULL
    ("params.lr = '0.1'", ["c", "a"]),
    ("params.lr != '0.1'", ["b"]),
    ('parameters.lr = "0.01"', ["b"]),
    ("param.lr LIKE '0._'", ["c", "a"]),
    ("params.opt LIKE 'a%'", ["a"]),
    ("params.opt ILIKE 'a%'", ["d", "a"]),
    ("params.opt LIKE '%A%'", ["d"]),
    ("params.opt ilike '%A%'", ["d", "a"]),
    ("params.lr IS NULL", ["d", "g"]),
    ("params.lr IS NOT NULL", ["c", "b", "a"]),
    ("params.opt IN ('adam', 'sgd')", ["b", "a"]),
    ("params.opt NOT IN ('adam')", ["d", "b"]),
    ("parameter.opt in ('Adam')", ["d"]),
    # tags, quoted keys, dotted keys
    ("tags.team = 'ml'", ["a"]),
    ("tags.team ILIKE 'ml%'", ["d", "b", "a"]),
    ("tags.team LIKE 'ml%'", ["d", "a"]),
    ("tags.\"my tag\" = 'x y'", ["c"]),
    ("tags.`my tag` LIKE 'x%'", ["c"]),
    ("tags.mlflow.runName = 'Alpha'", ["a"]),
    ("tag.team IN ('ML', 'ml_ops')", ["d", "b"]),
    ("tags.team NOT IN ('ml')", ["d", "b"]),
    ("tags.team IS NULL", ["c", "g"]),
    ("tags.team IS NOT NULL", ["d", "b", "a"]),
    # string attributes, run_name aliases
    ("run_name = 'beta'", ["b"]),
    ("attributes.run_name LIKE '%a'", ["c", "d", "b", "a"]),
    ("run_name LIKE 'a%'", []),
    ("run_name ILIKE 'a%'", ["a"]),
    ("`Run name` = 'gamma'", ["c"]),
    ("\"run name\" = 'gamma'", ["c"]),
    ("attributes.`Run Name` != 'gamma'", ["d", "b", "a", "g"]),
    ("status = 'RUNNING'", ["b"]),
    ("status IN ('FAILED', 'KILLED')", ["c", "g"]),
    ("status NOT IN ('FINISHED')", ["c", "b", "g"]),
    ("user_id != 'alice'", ["d", "b", "g"]),
    ("run_id IN ('a', 'b', 'zz')", ["b", "a"]),
    ("run_id = 'c'", ["c"]),
    ("run_id NOT IN ('c', 'd')", ["b", "a", "g"]),
    ("artifact_uri LIKE 'file:%'", DEFAULT_ORDER),
    # LIKE: only % and _ are wildcards; GLOB's * ? [ are literal; no escape character
    ("run_name LIKE 'eta_[1]*?'", ["g"]),
    ("run_name LIKE 'eta*'", []),
    ("run_name LIKE '%*?'", ["g"]),
    ("run_name LIKE '%[1]%'", ["g"]),
    ("run_name LIKE 'eta\\_%'", []),
    ("run_name ILIKE 'ETA_[1]*?'", ["g"]),
    ("run_name LIKE '_eta'", ["b"]),
    # OR, NOT, parentheses, precedence
    ("params.lr = '0.01' OR metrics.acc > 0.8", ["b", "a"]),
    ("NOT params.lr = '0.1'", ["d", "b", "g"]),
    ("NOT (params.lr = '0.1' OR status = 'KILLED')", ["d", "b"]),
    ("(status = 'FINISHED' OR status = 'RUNNING') AND params.opt ILIKE 'A%'", ["d", "a"]),
    ("status = 'FINISHED' OR status = 'RUNNING' AND params.opt = 'sgd'", ["d", "b", "a"]),
    ("NOT NOT status = 'KILLED'", ["g"]),
    ("metrics.acc > 0.5 or metrics.acc <= 0.5", ["d", "b", "a"]),
    ("NOT (metrics.acc > 0.5 OR metrics.acc <= 0.5)", ["c", "g"]),
    ("metrics.acc > 0.5 and params.lr = '0.1'", ["a"]),
    ("params.lr = '0.1' AND metrics.acc != 1 AND tags.team IS NULL", ["c"]),
    # datasets: no run here has any (test_inputs searches runs that do)
    ("datasets.name = 'x'", []),
    ("NOT dataset.digest = 'x'", DEFAULT_ORDER),
    # empty filters
    ("", DEFAULT_ORDER),
    ("   ", DEFAULT_ORDER),
    (None, DEFAULT_ORDER),
]


@pytest.mark.parametrize(("filter_text", "expected"), FILTERS)
def test_filter(engine: sa.Engine, filter_text: str | None, expected: list[str]) -> None:
    assert search_runs(engine, filter_text) == expected


ORDERS = [
    (None, DEFAULT_ORDER),
    ([], DEFAULT_ORDER),
    (["metrics.acc DESC"], ["a", "b", "d", "c", "g"]),
    (["metrics.acc ASC"], ["d", "b", "a", "c", "g"]),
    (["metrics.loss"], ["a", "d", "b", "c", "g"]),
    (["metrics.loss desc"], ["d", "a", "b", "c", "g"]),
    (["params.lr"], ["b", "c", "a", "d", "g"]),
    (["params.lr DESC"], ["c", "a", "b", "d", "g"]),
    (["tags.team"], ["b", "a", "d", "c", "g"]),
    (["tags.team DESC"], ["d", "a", "b", "c", "g"]),
    (["run_name"], ["a", "d", "b", "g", "c"]),
    (["attributes.`Run name` DESC"], ["c", "g", "b", "d", "a"]),
    (["end_time DESC"], ["c", "d", "a", "g", "b"]),
    (["end_time"], ["g", "a", "d", "c", "b"]),
    (["attributes.duration"], ["a", "g", "d", "c", "b"]),
    (["duration DESC"], ["c", "d", "a", "g", "b"]),
    (["start_time ASC"], ["g", "a", "b", "c", "d"]),
    (["created"], ["g", "a", "b", "c", "d"]),
    (["start_time DESC"], DEFAULT_ORDER),
    (["status", "run_name DESC"], ["c", "d", "a", "g", "b"]),
    (["run_id DESC"], ["g", "d", "c", "b", "a"]),
    (["user_id", "metrics.acc"], ["a", "c", "b", "d", "g"]),
    (["metrics.loss", "params.lr DESC"], ["a", "d", "b", "c", "g"]),
]


@pytest.mark.parametrize(("order_by", "expected"), ORDERS)
def test_order(engine: sa.Engine, order_by: list[str] | None, expected: list[str]) -> None:
    assert search_runs(engine, None, order_by) == expected


def test_filter_with_order(engine: sa.Engine) -> None:
    assert search_runs(engine, "params.lr IS NOT NULL", ["metrics.acc"]) == ["b", "a", "c"]
    assert search_runs(engine, "params.lr = '0.1'", ["metrics.acc DESC"]) == ["a", "c"]
    both = ["metrics.acc DESC"]
    assert search_runs(engine, "params.lr = '0.1'", both, experiment_ids=[1, 2]) == ["a", "f", "c"]


def test_experiment_ids_and_experiment_id_filter(engine: sa.Engine) -> None:
    assert search_runs(engine, None, experiment_ids=[2]) == ["f"]
    assert search_runs(engine, None, experiment_ids=[1, 2]) == ["f", *DEFAULT_ORDER]
    assert search_runs(engine, None, experiment_ids=[]) == []
    assert search_runs(engine, None, experiment_ids=[99]) == []
    both = [1, 2]
    assert search_runs(engine, "experiment_id = 2", experiment_ids=both) == ["f"]
    assert search_runs(engine, "experiment_id = '2'", experiment_ids=both) == ["f"]
    assert search_runs(engine, "experiment_id IN ('1')", experiment_ids=both) == DEFAULT_ORDER
    assert search_runs(engine, "experiment_id != 1", experiment_ids=both) == ["f"]
    assert search_runs(engine, "experiment_id NOT IN (1, 2)", experiment_ids=both) == []
    # The filter narrows the searched experiments, never widens them.
    assert search_runs(engine, "experiment_id = 2", experiment_ids=[1]) == []


def test_view_types(engine: sa.Engine) -> None:
    assert search_runs(engine, None, view_type=ViewType.DELETED_ONLY) == ["e"]
    assert search_runs(engine, None, view_type=ViewType.ALL) == ["e", *DEFAULT_ORDER]
    assert search_runs(engine, "metrics.acc > 0.9", view_type=ViewType.ALL) == ["e"]
    assert search_runs(engine, "metrics.acc > 0.9", view_type=ViewType.ACTIVE_ONLY) == []


def test_max_results_limits_the_page(engine: sa.Engine) -> None:
    assert search_runs(engine, None, max_results=2) == ["c", "d"]
    assert search_runs(engine, None, ["metrics.acc"], max_results=4) == ["d", "b", "a", "c"]
    assert search_runs(engine, None, max_results=1) == ["c"]


def test_string_experiment_ids_are_accepted(engine: sa.Engine) -> None:
    query = build_run_search(["2"], None, ViewType.ACTIVE_ONLY, 10, None, None)  # type: ignore[list-item]
    with engine.connect() as connection:
        assert query.fetch_page(connection).run_ids == ["f"]
    with pytest.raises(InvalidParameterError, match="Experiment ID must be a valid integer"):
        build_run_search(["x"], None, ViewType.ACTIVE_ONLY, 10, None, None)  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("max_results", "message"),
    [
        (0, "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer"),
        (
            -5,
            "Invalid value -5 for parameter 'max_results' supplied. It must be a positive integer",
        ),
        (
            50_001,
            "Invalid value 50001 for parameter 'max_results' supplied. It must be at most 50000",
        ),
        (True, "It must be a positive integer"),
        (2.5, "It must be a positive integer"),
    ],
)
def test_max_results_range(max_results: int, message: str) -> None:
    with pytest.raises(InvalidParameterError) as raised:
        build_run_search([1], None, ViewType.ACTIVE_ONLY, max_results, None, None)
    assert message in raised.value.message
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
    build_run_search([1], None, ViewType.ACTIVE_ONLY, 50_000, None, None)
    build_run_search([1], None, ViewType.ACTIVE_ONLY, 1, None, None)


def test_malformed_filter_changes_nothing(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        before = connection.execute(sa.text("SELECT COUNT(*) FROM runs")).scalar_one()
    with pytest.raises(InvalidParameterError, match="position"):
        build_run_search([1], "params.lr = '0.1'; DROP TABLE runs", ViewType.ALL, 10, None, None)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT COUNT(*) FROM runs")).scalar_one() == before


def test_user_text_is_bound_never_spliced(engine: sa.Engine) -> None:
    hostile = "x' OR '1'='1"
    text = "params.lr = '" + hostile.replace("'", "''") + "'"
    query = build_run_search([1], text, ViewType.ACTIVE_ONLY, 10, ['tags.`a"b`'], None)
    dialects: list[sa.Dialect] = [sqlite.dialect(), postgresql.dialect()]  # type: ignore[no-untyped-call]
    for dialect in dialects:
        sql = str(query.statement.compile(dialect=dialect))
        assert hostile not in sql and "1'='1" not in sql
        assert 'a"b' not in sql
    assert search_runs(engine, text) == []
