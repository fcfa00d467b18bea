"""Exact-value lookups on metric, param and tag rows, in the form each database can index.

- SQLite indexes (key, value, run_id) for params, tags and latest metrics (migration 0002). The
  correlated lookup "this run's row for key k has value v" is then one descent into a covering
  index; but SQLite has no statistics and prefers the (run_id, key) primary key plus a read of
  the table row, twice the work. ``value_lookup_table`` names the index (``INDEXED BY``).
- PostgreSQL limits a B-tree entry to about 2.7 kB while a value may hold 8,000 characters, so
  migration 0003 indexes ``left(value, 200)`` there. ``exact_text`` compares that prefix, which
  alone is exact for a value under 200 bytes (the usual case) and keeps the planner's estimate
  accurate (a second predicate would make it multiply two "independent" selectivities); longer
  values are also compared whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Boolean, String, false, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.selectable import Alias, FromClause, TableClause

from runstack.store.sql.schema import VALUE_PREFIX_CHARS

__all__ = ["exact_text", "value_index_name", "value_lookup_table"]

PREFIX = VALUE_PREFIX_CHARS  # characters of a param/tag value indexed on PostgreSQL


class _PrefixIn(FunctionElement[bool]):
    """Arguments: a text column, then one or more values it must equal."""

    type = Boolean()
    inherit_cache = True
    name = "runstack_prefix_in"
    # A condition as it stands: without this SQLite gets "(...) = 1", which no index serves.
    _is_implicitly_boolean = True


class _CheckedPrefixIn(_PrefixIn):
    """As ``_PrefixIn``, for values too long for the prefix alone to decide."""

    inherit_cache = True
    name = "runstack_checked_prefix_in"


class _ValueIndexed(Alias):
    """A params/tags/latest_metrics alias that SQLite must read through its value index."""

    inherit_cache = True


def exact_text(column: ColumnElement[Any], values: Sequence[str]) -> ColumnElement[bool]:
    """``column`` equals one of ``values`` (``=`` or ``IN``), in an indexable form."""
    if not values:
        return false()
    # Fewer bytes than PREFIX means fewer characters than PREFIX in any server encoding.
    long = any(len(value.encode("utf-8")) >= PREFIX for value in values)
    construct = _CheckedPrefixIn if long else _PrefixIn
    return construct(column, *(literal(value, String()) for value in values))


def value_index_name(table: TableClause) -> str:
    """The (key, value, run_id) index of ``table`` (migration 0002; SQLite only for params/tags)."""
    return f"ix_{table.name}_key_value"


def value_lookup_table(table: TableClause) -> FromClause:
    """``table`` under a fresh alias that SQLite reads through ``value_index_name(table)``.

    Use only where the lookup constrains key, value and run_id by equality (or IN).
    """
    return _ValueIndexed._construct(table)


def _args(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> list[str]:
    return [compiler.process(clause, **kw) for clause in element.clauses]


def _membership(column: str, values: list[str]) -> str:
    return f"{column} = {values[0]}" if len(values) == 1 else f"{column} IN ({', '.join(values)})"


@compiles(_PrefixIn)
def _prefix_in_default(element: _PrefixIn, compiler: SQLCompiler, **kw: Any) -> str:
    column, *values = _args(element, compiler, **kw)
    return f"({_membership(column, values)})"


@compiles(_PrefixIn, "postgresql")
def _prefix_in_postgresql(element: _PrefixIn, compiler: SQLCompiler, **kw: Any) -> str:
    column, *values = _args(element, compiler, **kw)
    prefixes = [f"left({value}, {PREFIX})" for value in values]
    test = _membership(f"left({column}, {PREFIX})", prefixes)
    if isinstance(element, _CheckedPrefixIn):
        test += f" AND {_membership(column, values)}"
    return f"({test})"


@compiles(_ValueIndexed)
def _indexed_default(element: _ValueIndexed, compiler: SQLCompiler, **kw: Any) -> str:
    text: str = compiler.visit_alias(element, **kw)  # type: ignore[no-untyped-call]
    return text


@compiles(_ValueIndexed, "sqlite")
def _indexed_sqlite(element: _ValueIndexed, compiler: SQLCompiler, **kw: Any) -> str:
    text: str = compiler.visit_alias(element, **kw)  # type: ignore[no-untyped-call]
    if kw.get("asfrom"):
        table = element.element
        assert isinstance(table, TableClause)
        text += f" INDEXED BY {value_index_name(table)}"
    return text
