"""Random filters and orderings against a reference model written in plain Python.

The model states the semantics independently of the SQL: latest metric values, NaN passing
only ``!=``, keys required for comparisons, LIKE with ``%``/``_`` only, missing values (and
NaN) last in both directions, ties broken by start_time DESC then run_id. Hypothesis draws
filters from a vocabulary that hits the data's edge cases; every result is also checked page
by page and across all statement shapes.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runstack.filters.nodes import And, Comparison, Field, InList, IsNull, Node, Not, Or
from runstack.filters.nodes import to_filter_text as render
from runstack.filters.parser import OrderKey, parse_order_by
from test_search_support import (
    BACKENDS,
    RunSpec,
    all_run_pages,
    fresh_engine,
    insert_experiment,
    insert_runs,
    search_runs,
)

METRIC_VALUES = [-1.0, 0.0, -0.0, 0.5, 1.0, 2.5, math.nan]
TEXT_VALUES = ["a", "A", "b", "ab", "a_b", "a%b", "[x]", "*", "aB"]
PATTERNS = ["a%", "%b", "_", "%_%", "A%", "[%", "*%", "%%", "a_b", "a\\%", "%B", "ab"]
NAMES = ["alpha", "Alpha", "beta", "a_b", "x*y"]
STATUSES = ["RUNNING", "FINISHED", "FAILED"]
DATASET_NAMES = ["train", "Train", "t_x"]
DIGESTS = ["d1", "d2"]
CONTEXTS = [None, "training", "eval", "Eval"]


def build_runs(seed: int = 5, count: int = 40) -> list[RunSpec]:
    rng = random.Random(seed)
    runs = []
    for index in range(count):
        runs.append(
            RunSpec(
                f"r{index:02d}",
                experiment_id=rng.choice([1, 1, 2]),
                name=rng.choice(NAMES),
                start_time=rng.choice([10, 20, 30, 40]),
                end_time=rng.choice([None, 50, 60]),
                status=rng.choice(STATUSES),
                user_id=rng.choice(["u1", "U1", "u2"]),
                lifecycle_stage=rng.choice(["active"] * 4 + ["deleted"]),
                metrics={k: rng.choice(METRIC_VALUES) for k in ("m1", "m2") if rng.random() < 0.8},
                params={k: rng.choice(TEXT_VALUES) for k in ("p1", "p2") if rng.random() < 0.7},
                tags={k: rng.choice(TEXT_VALUES) for k in ("t1",) if rng.random() < 0.7},
                datasets=[
                    (name, digest, rng.choice(CONTEXTS))
                    for name, digest in rng.sample(
                        [(n, d) for n in DATASET_NAMES for d in DIGESTS], rng.choice([0, 0, 1, 2])
                    )
                ],
            )
        )
    return runs


RUNS = build_runs()


@pytest.fixture(scope="module", params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sa.Engine]:
    with fresh_engine(request.param, tmp_path_factory.mktemp("model")) as engine:
        with engine.begin() as connection:
            insert_experiment(connection, 1, "one")
            insert_experiment(connection, 2, "two")
            insert_runs(connection, RUNS)
        yield engine


# -- the reference model -------------------------------------------------------------------


def like_matches(pattern: str, value: str, case_sensitive: bool) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    flags = re.DOTALL | (0 if case_sensitive else re.IGNORECASE)
    return re.fullmatch(regex, value, flags) is not None


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def lookup(run: RunSpec, field: Field) -> tuple[bool, Any]:
    """(present, value) of ``field`` for ``run``."""
    if field.entity == "metric":
        return field.key in run.metrics, run.metrics.get(field.key)
    if field.entity == "param":
        return field.key in run.params, run.params.get(field.key)
    if field.entity == "tag":
        return field.key in run.tags, run.tags.get(field.key)
    attribute = {"run_name": "name"}.get(field.key, field.key)
    value = getattr(run, attribute)
    return value is not None, value


def dataset_values(run: RunSpec, key: str) -> list[str]:
    """The values of one dataset field over the run's inputs (inputs without a context have
    no context value)."""
    index = {"name": 0, "digest": 1, "context": 2}[key]
    return [v for v in (item[index] for item in run.datasets) if v is not None]


def matches(node: Node, run: RunSpec) -> bool:
    if isinstance(node, And):
        return all(matches(item, run) for item in node.items)
    if isinstance(node, Or):
        return any(matches(item, run) for item in node.items)
    if isinstance(node, Not):
        return not matches(node.item, run)
    if node.field.entity == "dataset":  # some input satisfies the clause
        assert not isinstance(node, IsNull)
        return any(
            matches(_as_attribute(node), RunSpec("x", name=value))
            for value in dataset_values(run, node.field.key)
        )
    present, value = lookup(run, node.field)
    if isinstance(node, IsNull):
        return present if node.negated else not present
    if not present:
        return False
    if isinstance(node, InList):
        return (value not in node.values) if node.negated else (value in node.values)
    if node.op in ("LIKE", "ILIKE"):
        return like_matches(str(node.value), value, node.op == "LIKE")
    if isinstance(value, float) and math.isnan(value):
        return node.op == "!="
    return _COMPARE[node.op](value, node.value)


def _as_attribute(node: Comparison | InList) -> Comparison | InList:
    """The same test on ``run_name``: a present string value (the model's string rules)."""
    field = Field("attribute", "run_name", "string")
    if isinstance(node, InList):
        return InList(field, node.values, node.negated)
    return Comparison(field, node.op, node.value)


def reference(
    node: Node | None, order_by: list[str] | None, experiment_ids: tuple[int, ...]
) -> list[str]:
    chosen = [
        run
        for run in RUNS
        if run.experiment_id in experiment_ids
        and run.lifecycle_stage == "active"
        and (node is None or matches(node, run))
    ]
    keys = parse_order_by(order_by)
    names = {(k.entity, k.key) for k in keys}
    if ("attribute", "start_time") not in names:
        keys.append(OrderKey("attribute", "start_time", False, "number"))
    if ("attribute", "run_id") not in names:
        keys.append(OrderKey("attribute", "run_id", True, "string"))
    # Stable sorts from the last key to the first; rank (present / NaN / missing) always
    # ascending, the value in the requested direction.
    for key in reversed(keys):
        field = Field(key.entity, key.key, key.value_type)

        def rank(run: RunSpec, field: Field = field) -> int:
            present, value = lookup(run, field)
            if not present:
                return 2
            return 1 if isinstance(value, float) and math.isnan(value) else 0

        def value(run: RunSpec, field: Field = field) -> tuple[Any, ...]:
            # Rows without a value all tie here; the rank sort below moves them last.
            return (lookup(run, field)[1],) if rank(run) == 0 else ()

        chosen.sort(key=value, reverse=not key.ascending)
        chosen.sort(key=rank)
    return [run.run_id for run in chosen]


# -- filters drawn from the data's vocabulary ----------------------------------------------


@st.composite
def clauses(draw: st.DrawFn) -> Node:
    kind = draw(st.sampled_from(["metric", "param", "tag", "number", "string", "id", "dataset"]))
    if kind == "metric":
        field = Field("metric", draw(st.sampled_from(["m1", "m2", "m3"])), "number")
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
        number = draw(st.sampled_from([-1, 0, 0.5, 1, 2.5, -0.0, 0.25]))
        return Comparison(field, op, number)
    if kind == "number":
        key = draw(st.sampled_from(["start_time", "end_time"]))
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
        return Comparison(
            Field("attribute", key, "number"), op, draw(st.sampled_from([10, 25, 50]))
        )
    if kind == "id":
        field = Field("attribute", "experiment_id", "id")
        if draw(st.booleans()):
            return Comparison(
                field, draw(st.sampled_from(["=", "!="])), draw(st.sampled_from([1, 2]))
            )
        return InList(field, (draw(st.sampled_from([1, 2, 3])),), negated=draw(st.booleans()))
    if kind == "dataset":
        key = draw(st.sampled_from(["name", "digest", "context"]))
        field = Field("dataset", key, "string")
        values = {"name": DATASET_NAMES, "digest": DIGESTS, "context": CONTEXTS[1:]}[key]
    elif kind == "string":
        key = draw(st.sampled_from(["run_name", "status", "user_id", "run_id"]))
        field = Field("attribute", key, "string")
        pool = {"run_name": NAMES, "status": STATUSES, "user_id": ["u1", "U1", "u2"]}
        values = pool.get(key, ["r01", "r02", "r17"])
    else:
        keys = ["p1", "p2", "zz"] if kind == "param" else ["t1", "zz"]
        field = Field(kind, draw(st.sampled_from(keys)), "string")  # type: ignore[arg-type]
        values = TEXT_VALUES
        if draw(st.integers(0, 5)) == 0:
            return IsNull(field, negated=draw(st.booleans()))
    op = draw(st.sampled_from(["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"]))
    if op in ("IN", "NOT IN"):
        listed = draw(st.lists(st.sampled_from(values), min_size=1, max_size=3))
        return InList(field, tuple(listed), negated=op == "NOT IN")
    if op in ("LIKE", "ILIKE"):
        return Comparison(field, op, draw(st.sampled_from(PATTERNS + values)))
    return Comparison(field, op, draw(st.sampled_from(values)))


filters = st.recursive(
    clauses(),
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda items: And(tuple(items))),
        st.lists(children, min_size=2, max_size=3).map(lambda items: Or(tuple(items))),
        children.map(Not),
    ),
    max_leaves=5,
)
order_items = st.sampled_from(
    [
        "metrics.m1", "metrics.m1 DESC", "metrics.m2", "metrics.m3 DESC", "params.p1",
        "params.p1 DESC", "tags.t1", "run_name DESC", "end_time", "end_time DESC",
        "start_time", "status", "user_id DESC", "run_id DESC",
    ]
)  # fmt: skip
orderings = st.none() | st.lists(order_items, max_size=3, unique_by=lambda s: s.split()[0])

SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.slow
@SETTINGS
@given(node=st.none() | filters, order_by=orderings, both=st.booleans())
def test_results_match_the_model(
    engine: sa.Engine, node: Node | None, order_by: list[str] | None, both: bool
) -> None:
    experiment_ids = (1, 2) if both else (1,)
    text = None if node is None else render(node)
    expected = reference(node, order_by, experiment_ids)
    assert search_runs(engine, text, order_by, experiment_ids) == expected, text


@pytest.mark.slow
@settings(
    max_examples=40, deadline=None, suppress_health_check=list(SETTINGS.suppress_health_check)
)
@given(node=st.none() | filters, order_by=orderings, size=st.integers(1, 9))
def test_paging_matches_the_model(
    engine: sa.Engine, node: Node | None, order_by: list[str] | None, size: int
) -> None:
    text = None if node is None else render(node)
    pages = all_run_pages(engine, text, order_by, size, experiment_ids=(1, 2))
    assert [run for page in pages for run in page] == reference(node, order_by, (1, 2))
