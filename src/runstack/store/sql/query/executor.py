"""The minimal interface ``fetch_page`` needs to run statements.

The SQL store's ``Tx`` (``dialect`` plus ``all(statement)``) fits it as it is; a SQLAlchemy
``Connection`` is adapted. Rows only need attribute access by column label (``row.run_id``,
``row.k0``), which both SQLAlchemy rows and the store's named tuples provide.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Select
from sqlalchemy.engine import Connection, Dialect


class Executor(Protocol):
    @property
    def dialect(self) -> Dialect: ...

    def all(self, statement: Select[Any]) -> list[Any]: ...


class ConnectionExecutor:
    """Runs statements on a SQLAlchemy connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    @property
    def dialect(self) -> Dialect:
        return self.connection.dialect

    def all(self, statement: Select[Any]) -> list[Any]:
        return list(self.connection.execute(statement))


def as_executor(target: Executor | Connection) -> Executor:
    return ConnectionExecutor(target) if isinstance(target, Connection) else target
