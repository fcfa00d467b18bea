"""The search queries run unchanged through the SQL store's own transaction object (``Tx``),
which compiles statements itself and returns named tuples from a raw DBAPI cursor."""

from __future__ import annotations

from pathlib import Path

import pytest

from runstack.entities import ViewType
from runstack.store.sql.database import Database, Tx
from runstack.store.sql.query import (
    RunPage,
    RunSearchQuery,
    build_experiment_search,
    build_run_search,
)
from runstack.store.sql.query.plan_choice import candidate_plans
from runstack.store.sql.query.plans import Plan
from test_search_support import BACKENDS, RunSpec, fresh_engine, insert_experiment, insert_runs

RUNS = [
    RunSpec("a", start_time=1, params={"p": "x"}, metrics={"m": 1.0}, tags={"t": "A"}),
    RunSpec("b", start_time=2, params={"p": "y"}, metrics={"m": float("nan")}),
    RunSpec("c", start_time=3, params={"p": "x"}, metrics={"m": 0.5}, tags={"t": "a"}),
    RunSpec("d", start_time=4, params={"p": "x"}),
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_fetch_page_through_the_store_tx(backend: str, tmp_path: Path) -> None:
    with fresh_engine(backend, tmp_path) as engine:
        with engine.begin() as connection:
            insert_experiment(connection, 1, "one", 5)
            insert_experiment(connection, 2, "two", 6)
            insert_runs(connection, RUNS)
        uri = engine.url.render_as_string(hide_password=False)
        database = Database(uri)
        try:
            cases = [
                ("params.p IN ('x') AND tags.t LIKE 'a%'", None, ["c"]),
                ("params.p = 'x'", ["metrics.m DESC"], ["a", "c", "d"]),
                ("metrics.m != 2 OR tags.t ILIKE 'a'", ["metrics.m"], ["c", "a", "b"]),
                (None, None, ["d", "c", "b", "a"]),
            ]
            for filter_text, order_by, expected in cases:
                query = build_run_search(
                    [1, 2], filter_text, ViewType.ACTIVE_ONLY, 2, order_by, None
                )
                plans: list[Plan | None] = [None, *candidate_plans(query.parts)]

                def first_pages(
                    tx: Tx, q: RunSearchQuery = query, plans: list[Plan | None] = plans
                ) -> list[RunPage]:
                    return [q.fetch_page(tx, plan) for plan in plans]

                pages = database.read(first_pages)
                assert all(page == pages[0] for page in pages), (filter_text, pages)
                assert pages[0].run_ids == expected[:2]
                token = pages[0].next_page_token
                assert (token is None) == (len(expected) <= 2)
                if token is not None:
                    rest = build_run_search(
                        [1, 2], filter_text, ViewType.ACTIVE_ONLY, 5, order_by, token
                    )
                    second = database.read(rest.fetch_page)
                    assert second.run_ids == expected[2:] and second.next_page_token is None
            experiments = build_experiment_search("name LIKE 't%'", ViewType.ALL, 5, None, None)
            assert database.read(lambda tx: experiments.fetch_page(tx).experiment_ids) == [2]
        finally:
            database.close()
