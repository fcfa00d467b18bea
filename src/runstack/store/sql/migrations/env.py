"""Alembic environment: runs migrations on the connection that runstack hands over.

runstack never lets Alembic open its own connection: ``runstack.store.sql.migrate`` takes a
lock first (a PostgreSQL advisory lock, or SQLite's write lock) and passes that connection in
``config.attributes["connection"]``, so concurrent first uses of a fresh store serialise.
"""

from __future__ import annotations

from alembic import context

from runstack.store.sql.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table="runstack_schema_version",
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
