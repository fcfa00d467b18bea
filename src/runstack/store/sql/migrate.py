"""Creating and upgrading the schema, safely when many processes start at once.

A fresh, empty database is given the schema on first use, so the embedded store needs no
set-up step. A database whose schema is older than this runstack is never changed behind the
user's back: ``upgrade`` (``runstack db upgrade``) does that on purpose.

Concurrency: the check-then-migrate step runs under a lock held in the same transaction as
the DDL (PostgreSQL: an advisory transaction lock; SQLite: the database write lock taken by
BEGIN IMMEDIATE), and the version is read again once the lock is held. Eight processes
opening one fresh store at the same moment therefore create it exactly once.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runstack.errors import InvalidStateError, StoreUnavailableError
from runstack.store.sql.database import Database, redact

# The newest migration in migrations/versions (a test keeps the two equal).
SCHEMA_HEAD = "0007"
VERSION_TABLE = "runstack_schema_version"
_ADVISORY_LOCK_KEY = 0x72756E737461636B  # "runstack" as 8 bytes; fits a signed bigint


def _current_version(connection: Connection) -> str | None:
    """The schema revision, or None for a database runstack has never touched."""
    inspector = sa.inspect(connection)
    if not inspector.has_table(VERSION_TABLE):
        if inspector.has_table("experiments") or inspector.has_table("runs"):
            raise InvalidStateError(
                "The database holds tables that runstack did not create (an MLflow database?). "
                "Point runstack at a new database file or an empty PostgreSQL database."
            )
        return None
    row = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).first()
    return row[0] if row else None


def _fast_version(db: Database) -> str | None:
    """Read the version without inspection; None if the table is missing."""
    try:
        version = db.read(lambda tx: tx.scalar(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")))
        return None if version is None else str(version)
    except (sa.exc.DBAPIError, StoreUnavailableError):
        # Missing table (a fresh database) or no connection: the locked path below decides.
        return None


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
        )


def _run_alembic_upgrade(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def ensure_schema(db: Database) -> None:
    """Create the schema in an empty database; refuse an old or unknown one."""
    version = _fast_version(db)
    if version == SCHEMA_HEAD:
        return

    def create_if_empty(connection: Connection) -> str | None:
        _lock(connection)
        found = _current_version(connection)
        if found is None:
            _run_alembic_upgrade(connection)
            return SCHEMA_HEAD
        return found

    version = db.write_with_connection(create_if_empty)
    if version != SCHEMA_HEAD:
        raise InvalidStateError(
            f"The database at {redact(db.uri)} has schema version {version!r}, but this "
            f"runstack expects {SCHEMA_HEAD!r}. Run `runstack db upgrade --tracking-uri ...` "
            "to upgrade it (back it up first), or use a runstack that matches it."
        )


def upgrade(db: Database) -> tuple[str | None, str]:
    """Bring the schema to the newest version; returns (version before, version after)."""

    def migrate(connection: Connection) -> str | None:
        _lock(connection)
        before = _current_version(connection)
        _run_alembic_upgrade(connection)
        return before

    before = db.write_with_connection(migrate)
    return before, SCHEMA_HEAD
