"""Fresh stores that already hold runstack's schema, made in milliseconds instead of migrated.

Migrating an empty store costs about 0.1 s on SQLite and 0.5 s on PostgreSQL (tens of DDL
statements, each a round trip, plus Alembic's inspection), and most tests do not test
migration. So the migrations run once per test session, against a template:

- SQLite: the migrated template file is copied for each test;
- PostgreSQL: the statements the migrations sent to an empty schema are recorded, and replayed
  into a new schema, without Alembic and without the read-only queries. Creating and dropping
  those tables costs about as much as migrating, so a schema a test is done with is emptied
  (``TRUNCATE ... RESTART IDENTITY``, the Default experiment inserted again) and handed to the
  next test; one that cannot be emptied at once, or whose tables or indexes a test changed,
  is dropped instead.

Either way a test gets what the first use of an empty store would have created (tests in
test_store_templates.py compare the two), down to the Default experiment's creation time,
which is set to the moment the store is handed out (``DEFAULT_CREATED``). Tests of first use and of
migration itself keep using the empty ``store_uri``.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from runstack.store.sql import migrate
from runstack.store.sql.database import Database

# A recorded statement: text, parameters, and whether it was an executemany.
Statement = tuple[str, Any, bool]

# Migration 0001 creates the Default experiment (id 0) stamped with the time it runs.
DEFAULT_CREATED = (
    "UPDATE experiments SET creation_time = {now}, last_update_time = {now} WHERE experiment_id = 0"
)


def _now_ms() -> int:
    return int(time.time() * 1000)


def migrate_empty(uri: str) -> None:
    """Give the empty store at ``uri`` runstack's schema, as its first use does."""
    db = Database(uri)
    try:
        migrate.ensure_schema(db)
    finally:
        db.close()


def record_migration(uri: str) -> list[Statement]:
    """Migrate the empty store at ``uri`` and return the statements that changed it."""
    sent: list[Statement] = []

    def record(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        sent.append((statement, parameters, many))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        migrate_empty(uri)
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    return [s for s in sent if _changes_something(s[0])]


def _changes_something(statement: str) -> bool:
    """Everything but plain reads (Alembic's inspection, the advisory lock, data probes)."""
    text = statement.lstrip().upper()
    return not text.startswith("SELECT") or "SETVAL(" in text


def replay(connect: Callable[[], Any], statements: list[Statement]) -> None:
    """Send recorded statements over a new psycopg connection, in one transaction."""
    with connect() as connection, connection.transaction(), connection.cursor() as cursor:
        for statement, parameters, many in statements:
            if many:
                cursor.executemany(statement, parameters)
            else:
                cursor.execute(statement, parameters or None)
        cursor.execute(DEFAULT_CREATED.format(now=_now_ms()))


class PostgresPool:
    """Migrated PostgreSQL schemas for tests: made by replaying the migration, reused when
    emptied."""

    def __init__(self, statements: list[Statement]) -> None:
        self.statements = statements
        self.seed = [s for s in statements if s[0].lstrip().startswith("INSERT INTO experiments")]
        self.idle: list[tuple[str, str]] = []
        self.shape: tuple[Any, ...] | None = None  # the schema's objects, as migrated

    def take(
        self, create: Callable[[], tuple[str, str]], connect: Callable[[str], Any]
    ) -> tuple[str, str]:
        """(uri, schema) of a migrated, empty store."""
        if self.idle:
            uri, name = self.idle.pop()
            with connect(uri) as connection:
                connection.execute(DEFAULT_CREATED.format(now=_now_ms()))
            return uri, name
        uri, name = create()
        replay(lambda: connect(uri), self.statements)
        if self.shape is None:
            with connect(uri) as connection:
                self.shape = _shape(connection)
        return uri, name

    def give_back(
        self, uri: str, name: str, connect: Callable[[str], Any], drop: Callable[[str], None]
    ) -> None:
        """Empty the store for the next test, or drop it when that cannot be done safely."""
        try:
            with connect(uri) as connection:
                if _shape(connection) != self.shape:
                    raise LookupError("a test changed the schema")
                with connection.transaction(), connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '1s'")
                    tables = ", ".join(
                        f'"{t}"' for t in self.shape[0] if t != migrate.VERSION_TABLE
                    )
                    cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
                    for statement, parameters, many in self.seed:
                        if many:
                            cursor.executemany(statement, parameters)
                        else:
                            cursor.execute(statement, parameters or None)
        except Exception:  # a lock still held, a changed schema: a new schema next time
            drop(name)
            return
        self.idle.append((uri, name))


def _shape(connection: Any) -> tuple[Any, ...]:
    """The tables, and every relation (tables, indexes, sequences) with its kind, of the
    connection's schema, and its schema version."""
    tables = tuple(
        row[0]
        for row in connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        )
    )
    relations = tuple(
        connection.execute(
            "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() ORDER BY 1"
        )
    )
    version = tuple(connection.execute(f"SELECT version_num FROM {migrate.VERSION_TABLE}"))
    return tables, relations, version


def copy_sqlite(template: Path, target: Path) -> None:
    """The migrated template file as a new store (the template is closed: no WAL beside it)."""
    shutil.copyfile(template, target)
    with sqlite3.connect(target) as connection:
        connection.execute(DEFAULT_CREATED.format(now=_now_ms()))
    connection.close()
