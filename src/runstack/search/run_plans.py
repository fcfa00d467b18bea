"""The SQL statements that fetch one page of a run search.

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
  costs nothing until it is actually reached. Top-level clauses on that same key bound the
  walk and rule segments out (``order_key_filter``).

In the first two the filter's lookups correlate with the driving table, so a candidate that
fails them is dropped before its ``runs`` row is read. ``CrossJoin`` pins the driving table on
SQLite. The choice between the shapes is ``plan_choice.choose_plan``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select, true
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from runstack.search.executor import Executor
from runstack.search.nodes import Node
from runstack.search.ordering import after_condition, key_columns, order_clauses
from runstack.search.plan_choice import candidate_plans, choose_plan
from runstack.search.run_filter_sql import (
    keyed_condition,
    keyed_table,
    lookup_cost,
    run_condition,
)
from runstack.search.run_parts import (
    Driver,
    KeyedOrder,
    Plan,
    RunSearchParts,
    conjuncts,
)
from runstack.search.sql_constructs import CrossJoin
from runstack.store.sql.schema import runs

__all__ = [
    "KeyedOrder",
    "Plan",
    "RunSearchParts",
    "candidate_plans",
    "choose_plan",
    "driven_statement",
    "fetch_rows",
    "generic_statement",
    "segment_statement",
]


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


def fetch_rows(parts: RunSearchParts, executor: Executor, plan: Plan | None = None) -> list[Any]:
    """Run the page query with ``plan`` (chosen here when not given)."""
    if plan is None:
        plan = choose_plan(parts, executor)
    if plan.kind == "driven":
        assert plan.driver is not None
        return executor.all(driven_statement(parts, plan.driver))
    if plan.kind == "generic":
        return executor.all(generic_statement(parts))
    key_filter = parts.key_filter()
    assert key_filter is not None
    rows: list[Any] = []
    start = parts.after[0][0] if parts.after is not None else 0
    for segment in key_filter.ranks(parts.terms[0].max_rank):
        if segment < start:
            continue
        statement = segment_statement(parts, segment, parts.limit - len(rows))
        rows.extend(executor.all(statement))
        if len(rows) >= parts.limit:
            break
    return rows


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
