"""Keyset paging: pages add up to the whole result, survive concurrent inserts and deletes,
and tokens that do not belong to the search are refused."""

from __future__ import annotations

import base64
import json
import math
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from runstack.entities import ViewType
from runstack.errors import InvalidParameterError
from runstack.store.sql import schema
from runstack.store.sql.query import build_experiment_search, build_run_search
from test_search_support import (
    BACKENDS,
    RunSpec,
    all_run_pages,
    fresh_engine,
    insert_experiment,
    insert_runs,
    page_ids_all_plans,
    search_runs,
)


def varied_runs(count: int, seed: int, prefix: str = "r") -> list[RunSpec]:
    """Runs with many ties, NaN and missing values, so page boundaries land inside groups."""
    rng = random.Random(seed)
    runs = []
    for index in range(count):
        metrics = {}
        choice = rng.choice([0.1, 0.2, 0.2, -0.0, math.nan, None])
        if choice is not None:
            metrics["m"] = choice
        params = {}
        value = rng.choice(["a", "b", "B", None])
        if value is not None:
            params["p"] = value
        runs.append(
            RunSpec(
                f"{prefix}{index:03d}",
                start_time=rng.choice([100, 200, 300]),
                end_time=rng.choice([None, 400, 500]),
                name=rng.choice(["x", "y", "Y"]),
                params=params,
                metrics=metrics,
                tags={"t": rng.choice(["u", "v"])},
            )
        )
    return runs


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    with fresh_engine(request.param, tmp_path) as engine:
        with engine.begin() as connection:
            insert_experiment(connection, 1, "one")
            insert_runs(connection, varied_runs(30, seed=11))
        yield engine


ORDERINGS = [
    None,
    ["metrics.m DESC"],
    ["metrics.m"],
    ["params.p"],
    ["params.p DESC", "metrics.m"],
    ["end_time"],
    ["run_name DESC", "start_time"],
    ["tags.t", "run_id DESC"],
]


@pytest.mark.parametrize("order_by", ORDERINGS)
def test_pages_add_up_to_the_whole_result(engine: sa.Engine, order_by: list[str] | None) -> None:
    for filter_text in (None, "params.p IN ('a', 'B') OR metrics.m >= 0.2"):
        whole = search_runs(engine, filter_text, order_by)
        for size in (1, 4, 7, len(whole), len(whole) + 1):
            pages = all_run_pages(engine, filter_text, order_by, size)
            assert [run for page in pages for run in page] == whole
            assert all(len(page) == size for page in pages[:-1])
            assert 0 < len(pages[-1]) <= size or whole == []


def test_exactly_full_last_page_has_no_token(engine: sa.Engine) -> None:
    whole = search_runs(engine)
    query = build_run_search([1], None, ViewType.ACTIVE_ONLY, len(whole), None, None)
    ids, token = page_ids_all_plans(engine, query)
    assert ids == whole and token is None


@pytest.mark.parametrize("order_by", [None, ["metrics.m DESC"], ["params.p"], ["end_time DESC"]])
def test_inserts_and_deletes_between_pages(engine: sa.Engine, order_by: list[str] | None) -> None:
    before = search_runs(engine, None, order_by)
    first = build_run_search([1], None, ViewType.ACTIVE_ONLY, 10, order_by, None)
    page_one, token = page_ids_all_plans(engine, first)
    assert page_one == before[:10] and token is not None

    # New runs land everywhere in the order (some before the boundary, some after it), and
    # a run not yet returned is deleted.
    with engine.begin() as connection:
        insert_runs(connection, varied_runs(20, seed=99, prefix="n"))
        gone = before[15]
        connection.execute(
            sa.update(schema.runs)
            .where(schema.runs.c.run_id == gone)
            .values(lifecycle_stage="deleted")
        )
    now = search_runs(engine, None, order_by)
    boundary = now.index(page_one[-1])

    rest: list[str] = []
    while token is not None:
        query = build_run_search([1], None, ViewType.ACTIVE_ONLY, 10, order_by, token)
        ids, token = page_ids_all_plans(engine, query)
        rest.extend(ids)
    # Exactly the runs that now sort after the last run already shown: no repeats, no gaps.
    assert rest == now[boundary + 1 :]
    assert not set(rest) & set(page_one)
    assert set(before) - {gone} <= set(page_one) | set(rest)


def _encode(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def test_real_tokens_round_trip_as_str_and_bytes(engine: sa.Engine) -> None:
    query = build_run_search([1], None, ViewType.ACTIVE_ONLY, 5, ["metrics.m"], None)
    with engine.connect() as connection:
        token = query.fetch_page(connection).next_page_token
    assert isinstance(token, str)
    for form in (token, token.encode()):
        build_run_search([1], None, ViewType.ACTIVE_ONLY, 5, ["metrics.m"], form)  # type: ignore[arg-type]


def test_token_from_another_order_by_is_refused(engine: sa.Engine) -> None:
    query = build_run_search([1], None, ViewType.ACTIVE_ONLY, 5, ["metrics.m"], None)
    with engine.connect() as connection:
        token = query.fetch_page(connection).next_page_token
    assert token is not None
    for other in (None, ["metrics.m DESC"], ["params.p"], ["metrics.m", "start_time"]):
        with pytest.raises(InvalidParameterError, match="different order_by"):
            build_run_search([1], None, ViewType.ACTIVE_ONLY, 5, other, token)
    with pytest.raises(InvalidParameterError, match="different order_by"):
        build_experiment_search(None, ViewType.ACTIVE_ONLY, 5, None, token)
    # The same ordering spelled differently is the same ordering.
    build_run_search([1], "params.p = 'a'", ViewType.ALL, 9, ["metric.m ASC"], token)


def _signature(order: list[list[object]]) -> list[object]:
    return ["runs", order]


DEFAULT_SIGNATURE = _signature([["attribute", "start_time", False], ["attribute", "run_id", True]])
METRIC_SIGNATURE = _signature(
    [["metric", "m", True], ["attribute", "start_time", False], ["attribute", "run_id", True]]
)


@pytest.mark.parametrize(
    ("token", "order_by", "message"),
    [
        ("not base64!", None, "could not base64-decode"),
        ("YWJ", None, "could not base64-decode"),
        (base64.urlsafe_b64encode(b"\xff\xfe").decode(), None, "could not JSON-decode"),
        (base64.urlsafe_b64encode(b"{nope").decode(), None, "could not JSON-decode"),
        (_encode({"offset": 10}), None, "not issued by this search"),
        (_encode([1, 2]), None, "not issued by this search"),
        (_encode({"v": 2, "o": DEFAULT_SIGNATURE, "a": [1, "x"]}), None, "not issued"),
        (_encode({"v": 1, "o": DEFAULT_SIGNATURE, "a": "x"}), None, "not issued"),
        (_encode({"v": 1, "o": DEFAULT_SIGNATURE, "a": [1]}), None, "do not match"),
        (_encode({"v": 1, "o": DEFAULT_SIGNATURE, "a": [1, "x", 3]}), None, "do not match"),
        (_encode({"v": 1, "o": DEFAULT_SIGNATURE, "a": ["1", "x"]}), None, "do not match"),
        (_encode({"v": 1, "o": DEFAULT_SIGNATURE, "a": [1.5, "x"]}), None, "do not match"),
        (_encode({"v": 1, "o": DEFAULT_SIGNATURE, "a": [True, "x"]}), None, "do not match"),
        (_encode({"v": 1, "o": DEFAULT_SIGNATURE, "a": [1, 2]}), None, "do not match"),
        (_encode({"v": 1, "o": DEFAULT_SIGNATURE, "a": [None, "x"]}), None, "do not match"),
        (_encode({"v": 1, "o": METRIC_SIGNATURE, "a": [3, None, 1, "x"]}), ["metrics.m"], "match"),
        (_encode({"v": 1, "o": METRIC_SIGNATURE, "a": [0, None, 1, "x"]}), ["metrics.m"], "match"),
        (_encode({"v": 1, "o": METRIC_SIGNATURE, "a": [1, 0.5, 1, "x"]}), ["metrics.m"], "match"),
        (_encode({"v": 1, "o": METRIC_SIGNATURE, "a": [0, "0.5", 1, "x"]}), ["metrics.m"], "match"),
    ],
)
def test_malformed_tokens_are_refused(token: str, order_by: list[str] | None, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message) as raised:
        build_run_search([1], None, ViewType.ACTIVE_ONLY, 5, order_by, token)
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"


def test_handmade_valid_tokens_work(engine: sa.Engine) -> None:
    """Tokens are plain data: one for 'after (rank NaN, start 300, run r999)' is honoured."""
    whole = search_runs(engine, None, ["metrics.m"])
    token = _encode({"v": 1, "o": METRIC_SIGNATURE, "a": [1, None, 1000, ""]})
    query = build_run_search([1], None, ViewType.ACTIVE_ONLY, 1000, ["metrics.m"], token)
    ids, _ = page_ids_all_plans(engine, query)
    with engine.connect() as connection:
        has_real = {
            row.run_id
            for row in connection.execute(
                sa.select(schema.latest_metrics.c.run_id).where(
                    schema.latest_metrics.c.key == "m", schema.latest_metrics.c.value.is_not(None)
                )
            )
        }
    # Everything with a real value sorts before the token's position; the rest follows.
    assert ids == [run for run in whole if run not in has_real]
