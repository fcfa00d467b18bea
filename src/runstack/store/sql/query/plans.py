"""The statements that fetch one page of a run search, and the pieces they are built from.

All three shapes return the same rows in the same order; they differ only in which table
drives the query, which matters a great deal on SQLite (no statistics, so its planner cannot
tell a selective filter from an unselective one):

- *generic*: ``runs`` drives; filter clauses are EXISTS lookups; order keys are LEFT JOINs.
  Correct everywhere. On SQLite it is the right plan when ordering by ``start_time`` in one
  experiment (the (experiment_id, start_time) index yields rows in order; LIMIT stops early).
- *driven*: selective top-level clauses on one key (``params.x = 'a'``, ``metrics.m > 0.9``,
  both ends of a range) drive through their (key, value) index; only their candidates are
  looked up and sorted.
- *ordered*: the first order key is a metric/param/tag; its (key, value) index is walked in
  order and the scan stops as soon as the page is full. Runs with a real value, with NaN and
  without the key are read as separate segments, one statement each, so "missing last"
  costs nothing until it is actually reached.

In the first two the filter's lookups correlate with the driving table, so a candidate that
fails them is dropped before its ``runs`` row is read. ``CrossJoin`` pins the driving table on
SQLite. The choice between the shapes is ``plan_choice.choose_plan``.

**Clauses on the first order key bound the ordered walk** (``KeyFilter``). A clause ANDed at
the top of the filter that tests the key being walked (``metrics.m >= 0.25`` while ordering by
``metrics.m``) is a test of the very row being walked: (run_id, key) is the primary key, so the
clause's lookup can only find that row. Testing it on the walked row instead turns the walk
into an index range scan, and it tells which rank segments (real value, NaN, missing) can hold
a match at all:

- every comparison, ``IN``, ``LIKE`` and ``IS NOT NULL`` needs the key to be present, so the
  missing segment is skipped; ``IS NULL`` leaves only the missing segment;
- a NaN metric fails every comparison except ``!=``, so the NaN segment is skipped too.

Clauses under OR or NOT are never moved: only clauses every matching run must pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

from sqlalchemy import Select, and_, select, true
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from runstack.filters.nodes import And, Clause, Comparison, InList, IsNull, Node
from runstack.filters.parser import OrderKey
from runstack.store.sql.query.conditions import (
    keyed_condition,
    keyed_table,
    lookup_cost,
    run_condition,
)
from runstack.store.sql.query.constructs import CrossJoin
from runstack.store.sql.query.ordering import SortTerm, after_condition, key_columns, order_clauses
from runstack.store.sql.schema import runs

__all__ = [
    "Driver",
    "KeyFilter",
    "KeyedOrder",
    "Plan",
    "RunSearchParts",
    "conjuncts",
    "driven_statement",
    "drivers",
    "generic_statement",
    "segment_statement",
    "split_filter",
]

PlanKind = Literal["generic", "driven", "ordered"]
# Drivable top-level clauses on one metric/param/tag key, ANDed (e.g. both ends of a range).
Driver = tuple[Comparison | InList, ...]
# Ranks of a metric order key (see run_search._sort_terms): real value, NaN, missing.
_NAN_RANK = 1


@dataclass(frozen=True)
class KeyedOrder:
    """An order key read from latest_metrics/params/tags through an aliased join."""

    alias: FromClause
    entity: str
    key: str

    @property
    def field(self) -> tuple[str, str]:
        return (self.entity, self.key)

    def on(self) -> ColumnElement[bool]:
        return and_(self.alias.c.run_id == runs.c.run_id, self.alias.c.key == self.key)


@dataclass(frozen=True)
class RunSearchParts:
    """Everything needed to build any of the statements for one page."""

    experiment_ids: tuple[int, ...]
    scope: ColumnElement[bool]  # experiment ids and lifecycle stage
    node: Node | None
    keys: tuple[OrderKey, ...]  # order_by plus the implicit tail
    terms: tuple[SortTerm, ...]
    joins: tuple[KeyedOrder | None, ...]  # one per term; None for runs columns
    after: tuple[tuple[int, Any], ...] | None  # (rank, value) per term, from the page token
    limit: int  # max_results + 1: one extra row tells whether there is a next page

    def key_filter(self) -> KeyFilter | None:
        """The filter split around the first order key; None when it is a runs column."""
        first = self.joins[0]
        return None if first is None else split_filter(self.node, first.entity, first.key)


@dataclass(frozen=True)
class Plan:
    kind: PlanKind
    driver: Driver | None = None


def conjuncts(node: Node | None) -> list[Node]:
    """The top-level AND items of a filter (the filter itself when it is not an AND)."""
    if node is None:
        return []
    return list(node.items) if isinstance(node, And) else [node]


def can_drive(node: Node) -> TypeGuard[Comparison | InList]:
    """Whether ``node`` selects a range of its table's (key, value, run_id) index."""
    if isinstance(node, InList):
        return node.field.entity in ("param", "tag") and not node.negated
    if isinstance(node, Comparison):
        if node.field.entity == "metric":
            return node.op in ("=", "<", "<=", ">", ">=")
        return node.field.entity in ("param", "tag") and node.op == "="
    return False


def drivers(node: Node | None) -> list[Driver]:
    """Drivable top-level clauses grouped by (entity, key), in order of first appearance."""
    groups: dict[tuple[str, str], list[Comparison | InList]] = {}
    for item in conjuncts(node):
        if can_drive(item):
            groups.setdefault((item.field.entity, item.field.key), []).append(item)
    return [tuple(group) for group in groups.values()]


@dataclass(frozen=True)
class KeyFilter:
    """The filter split into clauses on the first order key and everything else."""

    entity: str
    on_key: tuple[Clause, ...]
    rest: Node | None

    def ranks(self, max_rank: int) -> list[int]:
        """The rank segments that can hold a matching run, in order."""
        allowed = set(range(max_rank + 1))
        for clause in self.on_key:
            if isinstance(clause, IsNull) and not clause.negated:
                allowed &= {max_rank}
                continue
            allowed.discard(max_rank)
            nan_fails = isinstance(clause, Comparison) and clause.op != "!="
            if self.entity == "metric" and nan_fails:
                allowed.discard(_NAN_RANK)
        return sorted(allowed)

    def row_conditions(self, row: FromClause) -> list[ColumnElement[bool]]:
        """The clauses as tests of the walked ``row`` (for segments where the key is present)."""
        return [
            keyed_condition(row, clause)
            for clause in self.on_key
            if isinstance(clause, (Comparison, InList))
        ]


def split_filter(node: Node | None, entity: str, key: str) -> KeyFilter:
    """Move the top-level conjuncts of ``node`` that test (entity, key) into ``on_key``."""
    conjuncts = list(node.items) if isinstance(node, And) else [] if node is None else [node]
    on_key: list[Clause] = []
    rest: list[Node] = []
    for item in conjuncts:
        if isinstance(item, (Comparison, InList, IsNull)) and _tests(item, entity, key):
            on_key.append(item)
        else:
            rest.append(item)
    remaining = None if not rest else rest[0] if len(rest) == 1 else And(tuple(rest))
    return KeyFilter(entity, tuple(on_key), remaining)


def _tests(clause: Clause, entity: str, key: str) -> bool:
    return clause.field.entity == entity and clause.field.key == key


def generic_statement(parts: RunSearchParts, limit: int | None = None) -> Select[Any]:
    source: FromClause = runs
    for join in parts.joins:
        if join is not None:
            source = source.outerjoin(join.alias, join.on())
    conditions = [parts.scope, _filter(parts.node, runs)]
    if parts.after is not None:
        conditions.append(after_condition(parts.terms, parts.after))
    return _select(parts, source, conditions, order_clauses(parts.terms), limit)


def driven_statement(parts: RunSearchParts, driver: Driver) -> Select[Any]:
    """``driver`` (top-level conjuncts on one key) drives through its (key, value) index."""
    alias = keyed_table(driver[0].field.entity).alias("driver")
    source: FromClause = CrossJoin(alias, runs, runs.c.run_id == alias.c.run_id)
    for join in parts.joins:
        if join is not None:
            source = source.outerjoin(join.alias, join.on())
    rest = [c for c in conjuncts(parts.node) if all(c is not d for d in driver)]
    rest.sort(key=lookup_cost)
    conditions = [
        *(keyed_condition(alias, clause) for clause in driver),
        *(run_condition(clause, alias) for clause in rest),
        parts.scope,
    ]
    if parts.after is not None:
        conditions.append(after_condition(parts.terms, parts.after))
    return _select(parts, source, conditions, order_clauses(parts.terms), None)


def segment_statement(parts: RunSearchParts, segment: int, limit: int) -> Select[Any]:
    """Rows whose first order key has rank ``segment``, walking that key's index in order."""
    first = parts.joins[0]
    key_filter = parts.key_filter()
    assert first is not None and key_filter is not None
    term = parts.terms[0]
    conditions: list[ColumnElement[bool]]
    if segment == term.max_rank:  # key missing: nothing to walk, runs drive
        source: FromClause = runs
        for join in parts.joins:
            if join is not None:
                source = source.outerjoin(join.alias, join.on())
        conditions = [first.alias.c.run_id.is_(None), _filter(key_filter.rest, runs)]
    else:
        alias = first.alias
        source = CrossJoin(alias, runs, runs.c.run_id == alias.c.run_id)
        for join in parts.joins[1:]:
            if join is not None:
                source = source.outerjoin(join.alias, join.on())
        value = alias.c.value
        conditions = [
            alias.c.key == first.key,
            value.is_not(None) if segment == 0 else value.is_(None),
            *key_filter.row_conditions(alias),
            _filter(key_filter.rest, alias),
        ]
    conditions.append(parts.scope)
    if parts.after is not None and parts.after[0][0] == segment:
        conditions.append(after_condition(parts.terms, parts.after, first_rank=False))
    return _select(parts, source, conditions, order_clauses(parts.terms, first_rank=False), limit)


def _select(
    parts: RunSearchParts,
    source: FromClause,
    conditions: Sequence[ColumnElement[bool]],
    ordering: Sequence[ColumnElement[Any]],
    limit: int | None,
) -> Select[Any]:
    statement = (
        select(runs.c.run_id, *key_columns(parts.terms))
        .select_from(source)
        .where(*conditions)
        .order_by(*ordering)
    )
    return statement.limit(parts.limit if limit is None else limit)


def _filter(node: Node | None, source: FromClause) -> ColumnElement[bool]:
    return true() if node is None else run_condition(node, source)
