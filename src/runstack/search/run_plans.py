"""The SQL statements that fetch one page of a run search, and the choice between them.

All three shapes return the same rows in the same order; they differ only in which table
drives the query, which matters a great deal on SQLite (no statistics, so its planner cannot
tell a selective filter from an unselective one):

- *generic*: ``runs`` drives; filter clauses are EXISTS lookups by primary key; order keys are
  LEFT JOINs. Correct everywhere. On SQLite it is the right plan when ordering by
  ``start_time`` in one experiment (the (experiment_id, start_time) index yields rows in
  order; LIMIT stops early).
- *driven*: one selective top-level clause (``params.x = 'a'``, ``metrics.m > 0.9``) drives
  through its (key, value) index; only its candidates are looked up and sorted.
- *ordered*: the first order key is a metric/param/tag; its (key, value) index is walked in
  order and the scan stops as soon as the page is full. Runs with a real value, with NaN and
  without the key are read as separate segments, one statement each, so "missing last"
  costs nothing until it is actually reached.

``CrossJoin`` pins the driving table on SQLite. The choice (``choose_plan``) costs a few
capped, index-only COUNT queries on SQLite; PostgreSQL, which has statistics, only needs the
segmented form to be able to walk an index in order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

from sqlalchemy import Select, and_, func, literal, select, true
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from runstack.search.executor import Executor
from runstack.search.filter_parser import OrderKey
from runstack.search.nodes import And, Comparison, InList, Node
from runstack.search.ordering import SortTerm, after_condition, key_columns, order_clauses
from runstack.search.run_filter_sql import keyed_condition, keyed_table, run_condition
from runstack.search.sql_constructs import CrossJoin
from runstack.store.sql.schema import runs

PlanKind = Literal["generic", "driven", "ordered"]

# A driving clause with fewer candidates than this is used without further probing.
SMALL_DRIVER = 1_000
# COUNT probes stop here; beyond it the exact number does not change the choice.
PROBE_CAP = 20_000
SCOPE_CAP = 1_000_000


@dataclass(frozen=True)
class KeyedOrder:
    """An order key read from latest_metrics/params/tags through an aliased join."""

    alias: FromClause
    entity: str
    key: str

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


@dataclass(frozen=True)
class Plan:
    kind: PlanKind
    driver: Comparison | InList | None = None


def generic_statement(parts: RunSearchParts, limit: int | None = None) -> Select[Any]:
    source: FromClause = runs
    for join in parts.joins:
        if join is not None:
            source = source.outerjoin(join.alias, join.on())
    conditions = [parts.scope, _filter(parts.node)]
    if parts.after is not None:
        conditions.append(after_condition(parts.terms, parts.after))
    return _select(parts, source, conditions, order_clauses(parts.terms), limit)


def driven_statement(parts: RunSearchParts, driver: Comparison | InList) -> Select[Any]:
    """``driver`` (a top-level conjunct) drives through its table's (key, value) index."""
    alias = keyed_table(driver.field.entity).alias("driver")
    source: FromClause = CrossJoin(alias, runs, runs.c.run_id == alias.c.run_id)
    for join in parts.joins:
        if join is not None:
            source = source.outerjoin(join.alias, join.on())
    rest = [c for c in _conjuncts(parts.node) if c is not driver]
    conditions = [keyed_condition(alias, driver), parts.scope, *(run_condition(c) for c in rest)]
    if parts.after is not None:
        conditions.append(after_condition(parts.terms, parts.after))
    return _select(parts, source, conditions, order_clauses(parts.terms), None)


def segment_statement(parts: RunSearchParts, segment: int, limit: int) -> Select[Any]:
    """Rows whose first order key has rank ``segment``, walking that key's index in order."""
    first = parts.joins[0]
    assert first is not None
    term = parts.terms[0]
    if segment == term.max_rank:  # key missing: nothing to walk, runs drive
        source: FromClause = runs
        for join in parts.joins:
            if join is not None:
                source = source.outerjoin(join.alias, join.on())
        segment_condition: ColumnElement[bool] = first.alias.c.run_id.is_(None)
    else:
        alias = first.alias
        source = CrossJoin(alias, runs, runs.c.run_id == alias.c.run_id)
        for join in parts.joins[1:]:
            if join is not None:
                source = source.outerjoin(join.alias, join.on())
        value = alias.c.value
        segment_condition = and_(
            alias.c.key == first.key, value.is_not(None) if segment == 0 else value.is_(None)
        )
    conditions = [segment_condition, parts.scope, _filter(parts.node)]
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
    rows: list[Any] = []
    start = parts.after[0][0] if parts.after is not None else 0
    for segment in range(start, parts.terms[0].max_rank + 1):
        statement = segment_statement(parts, segment, parts.limit - len(rows))
        rows.extend(executor.all(statement))
        if len(rows) >= parts.limit:
            break
    return rows


def choose_plan(parts: RunSearchParts, executor: Executor) -> Plan:
    """Pick the cheapest statement shape.

    PostgreSQL has statistics and plans each statement well by itself, but it cannot use an
    index to order by the rank expression of the generic shape; so it gets the segments
    whenever the first order key is a metric/param/tag, and the generic shape otherwise.
    """
    first_keyed = parts.joins[0] is not None
    if not parts.experiment_ids:
        return Plan("generic")  # nothing to search; the statement is constant-false
    if executor.dialect.name != "sqlite":
        return Plan("ordered") if first_keyed else Plan("generic")
    conjuncts = _conjuncts(parts.node)
    if any(_is_run_id_lookup(c) for c in conjuncts):
        return Plan("generic")  # primary-key lookups: SQLite's own choice is right
    ordered = Plan("ordered") if first_keyed else None
    if ordered is None and parts.keys[0].key == "start_time" and len(parts.experiment_ids) == 1:
        ordered = Plan("generic")  # runs come in start_time order from the experiment index
    drivers = [c for c in conjuncts if _can_drive(c)]
    if not drivers:
        return ordered or Plan("generic")
    counted: list[tuple[int, Comparison | InList]] = []
    for driver in drivers[:4]:
        table = keyed_table(driver.field.entity)
        candidates = select(literal(1)).where(keyed_condition(table, driver))
        count = _count(executor, candidates, PROBE_CAP)
        if count < SMALL_DRIVER:
            return Plan("driven", driver)
        counted.append((count, driver))
    fewest, best = min(counted, key=lambda item: item[0])
    if ordered is None:
        return Plan("driven", best)
    in_scope = select(literal(1)).where(runs.c.experiment_id.in_(parts.experiment_ids))
    total = max(_count(executor, in_scope, SCOPE_CAP), 1)
    # Independent clauses: the ordered walk reads about limit / selectivity index entries.
    selectivity = math.prod(min(count / total, 1.0) for count, _ in counted)
    ordered_cost = parts.limit / max(selectivity, 1e-12)
    return ordered if ordered_cost < fewest else Plan("driven", best)


def candidate_plans(parts: RunSearchParts) -> list[Plan]:
    """Every statement shape that can answer this search (all give the same rows)."""
    plans = [Plan("generic")]
    plans.extend(Plan("driven", c) for c in _conjuncts(parts.node) if _can_drive(c))
    if parts.joins[0] is not None:
        plans.append(Plan("ordered"))
    return plans


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


def _filter(node: Node | None) -> ColumnElement[bool]:
    return true() if node is None else run_condition(node)


def _conjuncts(node: Node | None) -> list[Node]:
    if node is None:
        return []
    return list(node.items) if isinstance(node, And) else [node]


def _can_drive(node: Node) -> TypeGuard[Comparison | InList]:
    if isinstance(node, InList):
        return node.field.entity in ("param", "tag") and not node.negated
    if isinstance(node, Comparison):
        if node.field.entity == "metric":
            return node.op in ("=", "<", "<=", ">", ">=")
        return node.field.entity in ("param", "tag") and node.op == "="
    return False


def _is_run_id_lookup(node: Node) -> bool:
    if isinstance(node, InList):
        return node.field.key == "run_id" and node.field.entity == "attribute" and not node.negated
    return (
        isinstance(node, Comparison)
        and node.field.entity == "attribute"
        and node.field.key == "run_id"
        and node.op == "="
    )


def _count(executor: Executor, candidates: Select[Any], cap: int) -> int:
    """COUNT(*) of ``candidates``, stopping at ``cap``."""
    capped = candidates.limit(cap).subquery()
    return int(executor.all(select(func.count()).select_from(capped))[0][0])
