"""SQL pieces whose text differs between SQLite and PostgreSQL.

The query builders do not know which database will run their statements, so anything
dialect-specific is a small custom construct compiled per dialect:

- ``like(column, pattern, case_sensitive)``: MLflow's LIKE is case-sensitive everywhere, but
  SQLite's LIKE ignores ASCII case, so on SQLite the pattern is translated to GLOB. Neither
  backend gets an escape character (PostgreSQL's default backslash escape is switched off), so
  ``%`` and ``_`` are always wildcards and everything else is literal, as in MLflow on SQLite.
- ``sortable(column)``: text ordered by code point on both backends (``COLLATE "C"`` on
  PostgreSQL, SQLite's default BINARY), so result order does not depend on the locale.
- ``CrossJoin``: an inner join that SQLite must evaluate left table first (its documented
  planner control); other backends get a plain JOIN and plan it themselves.

Patterns travel as bound parameters; the GLOB form is computed in Python before binding, so a
statement compiled once and cached serves every pattern.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Boolean, String, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.selectable import Join

__all__ = ["CrossJoin", "like", "like_to_glob", "sortable"]


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
