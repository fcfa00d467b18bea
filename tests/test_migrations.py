"""Migrations build exactly the declared schema, and the store refuses databases it must not touch."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import runstack
from runstack.errors import InvalidStateError
from runstack.store import open_store
from runstack.store.sql import migrate
from runstack.store.sql.database import Database, normalise_sql_url
from runstack.store.sql.schema import metadata


def test_schema_head_matches_newest_migration() -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(migrate.__file__).parent / "migrations"))
    assert ScriptDirectory.from_config(config).get_current_head() == migrate.SCHEMA_HEAD


def test_migrations_produce_the_declared_schema(store_uri: str) -> None:
    store = open_store(store_uri)
    engine = sa.create_engine(normalise_sql_url(store_uri))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": migrate.VERSION_TABLE}
            )
            differences = [
                d for d in compare_metadata(context, metadata) if d[0] != "remove_table"
                or d[1].name != migrate.VERSION_TABLE
            ]
        assert differences == []
    finally:
        engine.dispose()
        store.close()


def test_fresh_store_has_the_default_experiment(store_uri: str) -> None:
    store = open_store(store_uri)
    try:
        default = store.get_experiment("0")
        assert default.name == "Default"
        assert default.lifecycle_stage == "active"
    finally:
        store.close()


def test_older_schema_is_refused_not_upgraded(store_uri: str) -> None:
    open_store(store_uri).close()
    db = Database(store_uri)
    db.write_with_connection(
        lambda c: c.execute(sa.text(f"UPDATE {migrate.VERSION_TABLE} SET version_num = '0000'"))
    )
    with pytest.raises(InvalidStateError, match="runstack db upgrade"):
        migrate.ensure_schema(db)
    db.close()


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mlflow.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(InvalidStateError, match="did not create"):
        open_store(f"sqlite:///{path}")
    assert sa.inspect(sa.create_engine(f"sqlite:///{path}")).get_table_names() == ["experiments"]


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(runstack.InvalidParameterError, match="does not exist"):
        open_store(f"sqlite:///{tmp_path}/no/such/folder/x.db")
