"""A store made from the session's template (``migrated_store_uri``) is the store that the
first use of an empty one creates: same tables, columns, keys, indexes, constraints and rows
(the Default experiment stamped with the time the store was made)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import create_postgres_database, drop_postgres_database
from runstack.clock import now_ms
from runstack.entities import Metric
from runstack.store import open_store
from runstack.store.sql.database import normalise_sql_url

# Times that depend on when the store was made, compared apart.
_MADE_AT = ("creation_time", "last_update_time")


def describe(uri: str) -> dict[str, Any]:
    """Everything about a store's schema and rows that a test could observe, but the time the
    store was made."""
    engine = sa.create_engine(normalise_sql_url(uri))
    try:
        inspector = sa.inspect(engine)
        found: dict[str, Any] = {}
        with engine.connect() as connection:
            for table in sorted(inspector.get_table_names()):
                found[table] = {
                    "columns": [
                        (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                        for c in inspector.get_columns(table)
                    ],
                    "primary key": inspector.get_pk_constraint(table)["constrained_columns"],
                    "foreign keys": sorted(
                        (str(fk["constrained_columns"]), fk["referred_table"])
                        for fk in inspector.get_foreign_keys(table)
                    ),
                    "indexes": sorted(
                        (str(i["name"]), str(i["column_names"]), str(i.get("expressions")))
                        for i in inspector.get_indexes(table)
                    ),
                    "unique": sorted(
                        str(u["column_names"]) for u in inspector.get_unique_constraints(table)
                    ),
                    "checks": sorted(
                        str(c["sqltext"]) for c in inspector.get_check_constraints(table)
                    ),
                    "rows": sorted(
                        repr({k: v for k, v in row.items() if k not in _MADE_AT})
                        for row in connection.execute(
                            sa.text(f'SELECT * FROM "{table}"')
                        ).mappings()
                    ),
                }
            if engine.dialect.name == "postgresql":  # where each sequence would continue
                found["sequences"] = sorted(
                    map(
                        tuple,
                        connection.execute(
                            sa.text(
                                "SELECT sequencename, last_value FROM pg_sequences "
                                "WHERE schemaname = current_schema()"
                            )
                        ),
                    )
                )
        return found
    finally:
        engine.dispose()


def test_a_template_store_is_a_migrated_empty_store(
    migrated_store_uri: str, tmp_path: Path
) -> None:
    if migrated_store_uri.startswith("sqlite"):
        empty, name = f"sqlite:///{tmp_path}/empty.db", None
    else:
        empty, name = create_postgres_database()
    try:
        open_store(empty).close()  # first use: the migrations run
        made = describe(migrated_store_uri)
        assert made["experiments"]["rows"] and "runstack_schema_version" in made
        assert made == describe(empty)
        # The store accepts it as current: nothing to migrate, a run can be written.
        store = open_store(migrated_store_uri)
        default = store.get_experiment("0")
        # Made by the fixture just before this test, not when the template was.
        assert default.creation_time is not None
        assert now_ms() - 60_000 < default.creation_time <= now_ms()
        assert default.last_update_time == default.creation_time
        run = store.create_run("0", "me", 1, "r", [], None, None)
        assert store.get_run(run.info.run_id).info.run_name == "r"
        store.close()
    finally:
        if name is not None:
            drop_postgres_database(name)


def test_the_default_experiment_is_stamped_when_the_copy_is_made(migrated_store_uri: str) -> None:
    """Not when the session's template was migrated (an older time, the same for every test)."""
    import conftest

    if migrated_store_uri.startswith("sqlite"):
        assert conftest._sqlite_template is not None
        with sqlite3.connect(conftest._sqlite_template) as connection:
            (template_time,) = connection.execute(
                "SELECT creation_time FROM experiments WHERE experiment_id = 0"
            ).fetchone()
        connection.close()
    else:
        assert conftest._postgres_pool is not None
        (template_time,) = [
            row["creation_time"]
            for statement, parameters, many in conftest._postgres_pool.seed
            if statement.lstrip().startswith("INSERT INTO experiments")
            for row in (parameters if many else [parameters])
        ]
    store = open_store(migrated_store_uri)
    created = store.get_experiment("0").creation_time
    store.close()
    assert created is not None and created > template_time


def test_a_recycled_postgres_store_is_a_fresh_one() -> None:
    """A schema a test wrote to, emptied for the next test, is a migrated empty store again
    (sequences included: the next experiment is "1" again)."""
    import psycopg

    import conftest
    import store_templates

    if conftest.postgres_unavailable():
        pytest.skip(conftest.postgres_unavailable() or "")

    def connect(uri: str) -> Any:
        return psycopg.connect(uri, autocommit=True)

    template_uri, template = create_postgres_database()
    pool = store_templates.PostgresPool(store_templates.record_migration(template_uri))
    drop_postgres_database(template)
    empty, empty_name = create_postgres_database()
    uri, name = pool.take(create_postgres_database, connect)
    try:
        open_store(empty).close()
        store = open_store(uri)
        experiment_id = store.create_experiment("e", None, [("k", "v")])
        run = store.create_run(experiment_id, "me", 1, "r", [("t", "v")], None, 60_000)
        store.log_batch(run.info.run_id, [Metric("m", 1.0, 1, 0)], [("p", "v")], [])
        store.close()
        pool.give_back(uri, name, connect, drop_postgres_database)
        assert pool.idle == [(uri, name)]  # emptied, not dropped
        assert pool.take(create_postgres_database, connect) == (uri, name)
        assert describe(uri) == describe(empty)
        store = open_store(uri)
        assert store.create_experiment("again", None, []) == experiment_id == "1"
        store.close()
    finally:
        drop_postgres_database(name)
        drop_postgres_database(empty_name)
