"""SQL pieces whose text differs between SQLite and PostgreSQL.

The query builders do not know which database will run their statements, so anything
dialect-specific is a small custom construct compiled per dialect:

- ``like(column, pattern, case_sensitive)``: MLflow's LIKE is case-sensitive everywhere, but
  SQLite's LIKE ignores ASCII case, so on SQLite the pattern is translated to GLOB. Neither
  backend gets an escape character (PostgreSQL's default backslash escape is switched off), so
  ``%`` and ``_`` are always wildcards and everything else is literal, as in MLflow on SQLite.
  Patterns travel as bound parameters; the GLOB form is computed in Python before binding, so
  a statement compiled once and cached serves every pattern.
- ``sortable(column)``: text ordered by code point on both backends (``COLLATE "C"`` on
  PostgreSQL, SQLite's default BINARY), so result order does not depend on the locale.
- ``CrossJoin``: an inner join that SQLite must evaluate left table first (its documented
  planner control); other backends get a plain JOIN and plan it themselves.
- ``exact_text`` and ``value_lookup_table``: exact-value lookups on metric, param and tag rows
  in the form each database can index.

  SQLite indexes (key, value, run_id) for params, tags and latest metrics (migration 0002). The
  correlated lookup "this run's row for key k has value v" is then one descent into a covering
  index; but SQLite has no statistics and prefers the (run_id, key) primary key plus a read of
  the table row, twice the work. ``value_lookup_table`` names the index (``INDEXED BY``).

  PostgreSQL limits a B-tree entry to about 2.7 kB while a value may hold 8,000 characters, so
  migration 0003 indexes ``left(value, 200)`` there. ``exact_text`` compares that prefix, which
  alone is exact for a value under 200 bytes (the usual case) and keeps the planner's estimate
  accurate (a second predicate would make it multiply two "independent" selectivities); longer
  values are also compared whole.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Boolean, String, false, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.selectable import Alias, FromClause, Join, TableClause

from runstack.store.sql.schema import VALUE_PREFIX_CHARS

__all__ = [
    "CrossJoin",
    "exact_text",
    "like",
    "like_to_glob",
    "sortable",
    "value_index_name",
    "value_lookup_table",
]

PREFIX = VALUE_PREFIX_CHARS  # characters of a param/tag value indexed on PostgreSQL


class _CaseSensitiveLike(FunctionElement[bool]):
    """Arguments: column, LIKE pattern, the same pattern as GLOB."""

    type = Boolean()
    inherit_cache = True
    name = "runstack_like"


class _CaseInsensitiveLike(FunctionElement[bool]):
    """Arguments: column, LIKE pattern."""

    type = Boolean()
    inherit_cache = True
    name = "runstack_ilike"


class _Sortable(FunctionElement[str]):
    """Argument: a text column."""

    type = String()
    inherit_cache = True
    name = "runstack_sortable"


class CrossJoin(Join):
    """``left JOIN right ON ...`` that SQLite may not reorder."""

    inherit_cache = True


def like(column: ColumnElement[Any], pattern: str, case_sensitive: bool) -> ColumnElement[bool]:
    """MLflow's LIKE (``case_sensitive``) or ILIKE, with ``%`` and ``_`` as the only wildcards."""
    if case_sensitive:
        return _CaseSensitiveLike(
            column, literal(pattern, String()), literal(like_to_glob(pattern), String())
        )
    return _CaseInsensitiveLike(column, literal(pattern, String()))


def sortable(column: ColumnElement[Any]) -> ColumnElement[str]:
    """``column`` compared and ordered by code point on every backend."""
    return _Sortable(column)


def like_to_glob(pattern: str) -> str:
    """Translate a LIKE pattern to the GLOB pattern that matches the same strings."""
    out: list[str] = []
    for char in pattern:
        if char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        elif char in "*?[":
            out.append(f"[{char}]")
        else:
            out.append(char)
    return "".join(out)


def _args(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> list[str]:
    return [compiler.process(clause, **kw) for clause in element.clauses]


@compiles(_CaseSensitiveLike)
def _like_default(element: _CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    column, pattern, _ = _args(element, compiler, **kw)
    return f"({column} LIKE {pattern})"


@compiles(_CaseSensitiveLike, "sqlite")
def _like_sqlite(element: _CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    column, _, glob = _args(element, compiler, **kw)
    return f"({column} GLOB {glob})"


@compiles(_CaseSensitiveLike, "postgresql")
def _like_postgresql(element: _CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    column, pattern, _ = _args(element, compiler, **kw)
    return f"({column} LIKE {pattern} ESCAPE '')"


@compiles(_CaseInsensitiveLike)
def _ilike_default(element: _CaseInsensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    column, pattern = _args(element, compiler, **kw)
    return f"(lower({column}) LIKE lower({pattern}))"


@compiles(_CaseInsensitiveLike, "postgresql")
def _ilike_postgresql(element: _CaseInsensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    column, pattern = _args(element, compiler, **kw)
    return f"({column} ILIKE {pattern} ESCAPE '')"


@compiles(_Sortable)
def _sortable_default(element: _Sortable, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = _args(element, compiler, **kw)
    return column


@compiles(_Sortable, "postgresql")
def _sortable_postgresql(element: _Sortable, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = _args(element, compiler, **kw)
    return f'({column} COLLATE "C")'


@compiles(CrossJoin)
def _join_default(element: CrossJoin, compiler: SQLCompiler, **kw: Any) -> str:
    return _render_join(element, compiler, "JOIN", **kw)


@compiles(CrossJoin, "sqlite")
def _join_sqlite(element: CrossJoin, compiler: SQLCompiler, **kw: Any) -> str:
    return _render_join(element, compiler, "CROSS JOIN", **kw)


def _render_join(element: CrossJoin, compiler: SQLCompiler, keyword: str, **kw: Any) -> str:
    """``left <keyword> right ON onclause``, as SQLAlchemy renders an inner join."""
    linter = kw.get("from_linter")
    if linter is not None:  # tell SQLAlchemy's cartesian-product linter these are joined
        left_froms = _originals(element.left._from_objects)
        right_froms = _originals(element.right._from_objects)
        linter.edges.update(itertools.product(left_froms, right_froms))
    assert element.onclause is not None
    kw.pop("asfrom", None)
    left = element.left._compiler_dispatch(compiler, asfrom=True, **kw)
    right = element.right._compiler_dispatch(compiler, asfrom=True, **kw)
    onclause = element.onclause._compiler_dispatch(compiler, **kw)
    return f"{left} {keyword} {right} ON {onclause}"


def _originals(elements: Iterable[Any]) -> Iterator[Any]:
    for element in elements:
        while getattr(element, "_is_clone_of", None) is not None:
            element = element._is_clone_of
        yield element


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
