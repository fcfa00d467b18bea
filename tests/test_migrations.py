"""Migrations build exactly the declared schema; the store refuses databases it must not
touch; `upgrade` brings an older schema up to date."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
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


def _expected(difference: tuple[object, ...], dialect: str) -> bool:
    """Differences that are by design: the version table, and indexes declared for the
    other database only (``Index.ddl_if``)."""
    kind, item = difference[0], difference[1]
    if kind == "remove_table":
        return getattr(item, "name", None) == migrate.VERSION_TABLE
    if kind == "add_index":
        only_on = _DIALECT_ONLY_INDEXES.get(getattr(item, "name", None))
        return only_on is not None and only_on != dialect
    return False


# Index name -> the one database it is created on (declared with Index.ddl_if).
_DIALECT_ONLY_INDEXES = {
    index.name: index._ddl_if.dialect
    for table in metadata.tables.values()
    for index in table.indexes
    if getattr(index, "_ddl_if", None) is not None
}


# SQLite cannot reflect expression indexes; they are PostgreSQL-only here and compared there.
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression")
def test_migrations_produce_the_declared_schema(store_uri: str) -> None:
    store = open_store(store_uri)
    engine = sa.create_engine(normalise_sql_url(store_uri))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": migrate.VERSION_TABLE}
            )
            differences = [
                d
                for d in compare_metadata(context, metadata)
                if not _expected(d, engine.dialect.name)
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


def test_upgrade_from_first_schema(store_uri: str) -> None:
    db = Database(store_uri)

    def create_first_schema(connection: sa.Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(Path(migrate.__file__).parent / "migrations"))
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")

    db.write_with_connection(create_first_schema)
    with pytest.raises(InvalidStateError, match="schema version '0001'"):
        migrate.ensure_schema(db)
    assert migrate.upgrade(db) == ("0001", migrate.SCHEMA_HEAD)
    migrate.ensure_schema(db)
    db.close()
    store = open_store(store_uri)
    assert store.get_experiment("0").name == "Default"
    store.close()


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
