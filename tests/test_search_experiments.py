"""search_experiments filters, ordering and paging against SQLite and PostgreSQL.

id  name     created  updated  stage    tags
0   Default  0        0        active
1   alpha    100      500      active   team=ml env=prod
2   Beta     200      300      active   team=ML
3   gamma_1  200      200      deleted
4   delta    300      400      active   env=dev
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from runstack.entities import ViewType
from runstack.errors import InvalidParameterError
from runstack.store.sql.query import build_experiment_search, build_run_search
from test_search_support import BACKENDS, fresh_engine, insert_experiment, search_experiment_ids

EXPERIMENTS = [
    (0, "Default", 0, 0, "active", {}),
    (1, "alpha", 100, 500, "active", {"team": "ml", "env": "prod"}),
    (2, "Beta", 200, 300, "active", {"team": "ML"}),
    (3, "gamma_1", 200, 200, "deleted", {}),
    (4, "delta", 300, 400, "active", {"env": "dev"}),
]
DEFAULT = [4, 2, 1, 0]


@pytest.fixture(scope="module", params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sa.Engine]:
    folder: Path = tmp_path_factory.mktemp("search-experiments")
    with fresh_engine(request.param, folder) as engine:
        with engine.begin() as connection:
            for eid, name, created, updated, stage, tags in EXPERIMENTS:
                insert_experiment(connection, eid, name, created, stage, tags, updated)
        yield engine


def ids(engine: sa.Engine, filter_text: str | None = None, **kwargs: object) -> list[int]:
    return search_experiment_ids(engine, filter_text, **kwargs)[0]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        (None, DEFAULT),
        ("", DEFAULT),
        ("name = 'alpha'", [1]),
        ("name LIKE 'a%'", [1]),
        ("name LIKE 'B%'", [2]),
        ("name LIKE 'b%'", []),
        ("name ILIKE 'b%'", [2]),
        ("name != 'alpha'", [4, 2, 0]),
        ("name IN ('alpha', 'delta')", [4, 1]),
        ("attribute.name NOT IN ('alpha')", [4, 2, 0]),
        ("attributes.name = 'Beta'", [2]),
        ("attr.name = 'Beta'", [2]),
        ("creation_time > 100", [4, 2]),
        ("creation_time >= 100", [4, 2, 1]),
        ("last_update_time < 400", [2, 0]),
        ("last_update_time = 500", [1]),
        ("experiment_id = '1'", [1]),
        ("experiment_id = 1", [1]),
        ("experiment_id IN ('0', '4')", [4, 0]),
        ("experiment_id != 0", [4, 2, 1]),
        ("experiment_id NOT IN (1, 2)", [4, 0]),
        ("tags.team = 'ml'", [1]),
        ("tags.team ILIKE 'ml'", [2, 1]),
        ("tags.env != 'prod'", [4]),
        ("tags.team IS NULL", [4, 0]),
        ("tags.team IS NOT NULL", [2, 1]),
        ("tags.env IN ('dev', 'prod')", [4, 1]),
        ("tag.`team` LIKE 'M%'", [2]),
        ("name = 'alpha' OR tags.env = 'dev'", [4, 1]),
        ("NOT tags.team = 'ml'", [4, 2, 0]),
        ("NOT (creation_time > 100 OR name = 'Default')", [1]),
        ("(name LIKE '%a' OR name LIKE '%t') AND last_update_time >= 300", [4, 2, 1]),
    ],
)
def test_filter(engine: sa.Engine, filter_text: str | None, expected: list[int]) -> None:
    assert ids(engine, filter_text) == expected


def test_view_types(engine: sa.Engine) -> None:
    assert ids(engine, None, view_type=ViewType.DELETED_ONLY) == [3]
    assert ids(engine, None, view_type=ViewType.ALL) == [4, 2, 3, 1, 0]
    assert ids(engine, "name LIKE 'gamma_1'", view_type=ViewType.ALL) == [3]


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (["name"], [2, 0, 1, 4]),
        (["name DESC"], [4, 1, 0, 2]),
        (["last_update_time DESC"], [1, 4, 2, 0]),
        (["experiment_id DESC"], [4, 2, 1, 0]),
        (["creation_time"], [0, 1, 2, 4]),
        (["attributes.creation_time DESC", "name"], [4, 2, 1, 0]),
    ],
)
def test_order(engine: sa.Engine, order_by: list[str], expected: list[int]) -> None:
    assert ids(engine, None, order_by=order_by) == expected


def test_ties_break_on_experiment_id(engine: sa.Engine) -> None:
    assert ids(engine, None, order_by=["creation_time"], view_type=ViewType.ALL) == [0, 1, 2, 3, 4]
    by_name = ["creation_time DESC", "name DESC"]
    assert ids(engine, None, order_by=by_name, view_type=ViewType.ALL) == [4, 3, 2, 1, 0]


@pytest.mark.parametrize("order_by", [None, ["name"], ["last_update_time"], ["experiment_id DESC"]])
def test_paging(engine: sa.Engine, order_by: list[str] | None) -> None:
    whole = ids(engine, None, order_by=order_by, view_type=ViewType.ALL)
    for size in (1, 2, 3, 5):
        seen: list[int] = []
        token: str | None = None
        while True:
            page, token = search_experiment_ids(
                engine, None, order_by, ViewType.ALL, size, page_token=token
            )
            seen.extend(page)
            if token is None:
                break
        assert seen == whole


def test_paging_survives_new_experiments(tmp_path: Path) -> None:
    with fresh_engine("sqlite", tmp_path) as engine:
        with engine.begin() as connection:
            for eid in range(1, 7):
                insert_experiment(connection, eid, f"e{eid}", eid * 10)
        first, token = search_experiment_ids(engine, None, None, ViewType.ALL, 3)
        assert first == [6, 5, 4]
        with engine.begin() as connection:
            insert_experiment(connection, 7, "newest", 1000)  # sorts before the boundary
            insert_experiment(connection, 8, "older", 15)  # sorts after it
        rest, token = search_experiment_ids(engine, None, None, ViewType.ALL, 10, token)
        assert rest == [3, 2, 8, 1] and token is None


def test_bad_input(engine: sa.Engine) -> None:
    with pytest.raises(InvalidParameterError, match="same field"):
        build_experiment_search(None, ViewType.ALL, 10, ["name", "attribute.name DESC"], None)
    with pytest.raises(InvalidParameterError, match=r"cannot order by tags\.x"):
        build_experiment_search(None, ViewType.ALL, 10, ["tags.x"], None)
    with pytest.raises(InvalidParameterError, match="at most 50000"):
        build_experiment_search(None, ViewType.ALL, 50_001, None, None)
    with pytest.raises(InvalidParameterError, match="invalid entity type 'metrics'"):
        build_experiment_search("metrics.a > 1", ViewType.ALL, 10, None, None)
    with pytest.raises(InvalidParameterError, match="could not base64-decode"):
        build_experiment_search(None, ViewType.ALL, 10, None, "%%%")
    run_query = build_run_search([1], None, ViewType.ALL, 1, None, None)
    row = type("Row", (), {"k0": 5, "k1": "abc", "run_id": "abc"})()
    run_token = run_query.next_page_token(row)
    with pytest.raises(InvalidParameterError, match="different order_by"):
        build_experiment_search(None, ViewType.ALL, 10, None, run_token)
