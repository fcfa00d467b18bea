"""Sort terms shared by run and experiment search: ORDER BY, selected key columns, keyset.

An order key becomes a ``SortTerm``: an optional *rank* (0 = the row has a value, 1 = NaN or
missing, 2 = missing when NaN is possible) sorted ascending, then the value in the requested
direction. Sorting by rank first is what puts missing values (and NaN) last in *both*
directions on every backend, whatever the database does with NULLs. Within a rank above 0 the
value is NULL for every row, so those rows tie and fall through to the next term.

The keyset condition "strictly after the last row" is built from the same terms, so page
boundaries always agree with the ORDER BY.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import BigInteger, Float, Integer, String, and_, literal, or_
from sqlalchemy.sql.elements import ColumnElement

from runstack.errors import InvalidParameterError

SortKind = Literal["int", "float", "str"]

_LITERAL_TYPES = {"int": BigInteger, "float": Float, "str": String}


@dataclass(frozen=True)
class SortTerm:
    value: ColumnElement[Any]
    descending: bool
    kind: SortKind
    rank: ColumnElement[Any] | None = None  # None: the value is never missing
    max_rank: int = 0

    def columns(self) -> list[ColumnElement[Any]]:
        return [self.rank, self.value] if self.rank is not None else [self.value]

    def order_by(self, with_rank: bool = True) -> list[ColumnElement[Any]]:
        clauses: list[ColumnElement[Any]] = []
        if self.rank is not None and with_rank:
            clauses.append(self.rank.asc())
        clauses.append(self.value.desc() if self.descending else self.value.asc())
        return clauses


def key_columns(terms: Sequence[SortTerm]) -> list[ColumnElement[Any]]:
    """The columns to select so that a row can be turned into a page token (labelled k0, k1...)."""
    return [column.label(f"k{i}") for i, column in enumerate(c for t in terms for c in t.columns())]


def key_labels(terms: Sequence[SortTerm]) -> list[str]:
    return [f"k{i}" for i in range(sum(len(t.columns()) for t in terms))]


def order_clauses(terms: Sequence[SortTerm], first_rank: bool = True) -> list[ColumnElement[Any]]:
    clauses: list[ColumnElement[Any]] = []
    for index, term in enumerate(terms):
        clauses.extend(term.order_by(with_rank=first_rank or index > 0))
    return clauses


def split_values(terms: Sequence[SortTerm], after: list[Any]) -> list[tuple[int, Any]]:
    """Check token values against the terms; return one (rank, value) pair per term.

    Raises InvalidParameterError for anything a genuine token could not contain.
    """
    expected = sum(len(t.columns()) for t in terms)
    if len(after) != expected:
        raise _bad_token()
    pairs: list[tuple[int, Any]] = []
    position = 0
    for term in terms:
        rank = 0
        if term.rank is not None:
            rank = after[position]
            position += 1
            if type(rank) is not int or not 0 <= rank <= term.max_rank:
                raise _bad_token()
        value = after[position]
        position += 1
        if (value is None) != (rank > 0) or (value is not None and not _fits(term.kind, value)):
            raise _bad_token()
        pairs.append((rank, value))
    return pairs


def after_condition(
    terms: Sequence[SortTerm], pairs: Sequence[tuple[int, Any]], first_rank: bool = True
) -> ColumnElement[bool]:
    """Rows that sort strictly after the row whose term values are ``pairs``.

    With ``first_rank=False`` the first term's rank is taken as already fixed (the caller only
    reads rows of that rank).
    """
    parts: list[tuple[ColumnElement[Any], bool, Any]] = []
    for index, (term, (rank, value)) in enumerate(zip(terms, pairs, strict=True)):
        if term.rank is not None and (first_rank or index > 0):
            parts.append((term.rank, False, literal(rank, Integer())))
        if value is not None:  # rank 0; for rank > 0 every candidate has NULL here: a tie
            parts.append((term.value, term.descending, literal(value, _LITERAL_TYPES[term.kind]())))
    alternatives = []
    for index, (expr, descending, bound) in enumerate(parts):
        earlier = [e == b for e, _, b in parts[:index]]
        alternatives.append(and_(*earlier, expr < bound if descending else expr > bound))
    first_expr, first_descending, first_bound = parts[0]
    # Redundant with the alternatives, but lets an index on the first column bound its range.
    leading = first_expr <= first_bound if first_descending else first_expr >= first_bound
    return and_(leading, or_(*alternatives))


def _fits(kind: SortKind, value: Any) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return type(value) is int
    return type(value) in (int, float)


def _bad_token() -> InvalidParameterError:
    return InvalidParameterError(
        "Invalid page token: its values do not match the search. Start again without a page token."
    )
