"""Choosing the statement shape for a run search (see ``plans`` for the shapes).

PostgreSQL has statistics and plans each statement well by itself; it only needs the ordered
shape to be able to walk an index in order. SQLite has none, so the choice is made here from a
few capped, index-only COUNT probes, under the usual independence assumption:

- a *driver* (top-level clauses on one key) with C candidates costs about C lookups;
- an ordered walk reads entries until ``limit`` of them match: about ``limit / S`` entries,
  where S is the share of walked entries that pass the scope and the other drivers. Drivers
  on the order key itself bound the walk instead (at most their own candidates are read).

Shares are taken against the number of runs in the table (``max(rowid)``, free), and the
experiment scope is counted only as far as the decision needs, from whichever side (inside
or outside the scope) is cheaper to count.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from sqlalchemy import Select, and_, func, literal, literal_column, or_, select
from sqlalchemy.sql.elements import ColumnElement

from runstack.filters.nodes import Comparison, InList, Node
from runstack.store.sql.query.conditions import keyed_condition, keyed_table
from runstack.store.sql.query.executor import Executor
from runstack.store.sql.query.plans import Driver, Plan, RunSearchParts, conjuncts, drivers
from runstack.store.sql.schema import runs

# A driver with fewer candidates than this is used without further probing.
SMALL_DRIVER = 1_000
# Driver probes stop here; beyond it the exact number rarely changes the choice.
PROBE_CAP = 20_000
# Counting the runs outside the scope takes one index range per gap between experiment ids.
MAX_GAPS = 8


def choose_plan(parts: RunSearchParts, executor: Executor) -> Plan:
    """Pick the cheapest statement shape."""
    first = parts.joins[0]
    if not parts.experiment_ids:
        return Plan("generic")  # nothing to search; the statement is constant-false
    if executor.dialect.name != "sqlite":
        return Plan("ordered") if first is not None else Plan("generic")
    if any(_is_run_id_lookup(c) for c in conjuncts(parts.node)):
        return Plan("generic")  # primary-key lookups: SQLite's own choice is right
    groups = drivers(parts.node)
    if first is not None:
        on_key = [g for g in groups if (g[0].field.entity, g[0].field.key) == first.field]
        others = [g for g in groups if g not in on_key]
        bound = _candidates(executor, on_key[0]) if on_key and others else math.inf
        if bound < SMALL_DRIVER:
            return Plan("ordered")  # the walk reads at most what any driver would, in order
        return _versus_walk(parts, executor, others, Plan("ordered"), bound)
    if parts.keys[0].key == "start_time" and len(parts.experiment_ids) == 1:
        # Runs come in start_time order from the experiment index, all of them in scope.
        return _versus_walk(parts, executor, groups, Plan("generic"))
    return _versus_walk(parts, executor, groups, None)


def candidate_plans(parts: RunSearchParts) -> list[Plan]:
    """Every statement shape that can answer this search (all give the same rows)."""
    plans = [Plan("generic")]
    plans.extend(Plan("driven", group) for group in drivers(parts.node))
    if parts.joins[0] is not None:
        plans.append(Plan("ordered"))
    return plans


def _versus_walk(
    parts: RunSearchParts,
    executor: Executor,
    groups: list[Driver],
    walk: Plan | None,
    bound: float = math.inf,
) -> Plan:
    """``walk`` (reading at most ``bound`` entries) or the best of ``groups``, by estimated cost.

    A generic walk reads the scope only; an ordered walk reads the whole key's index, so it
    also pays for the runs outside the scope. No walk: the best driver, or generic.
    """
    if not groups:
        return walk or Plan("generic")
    counted: list[tuple[int, Driver]] = []
    for group in groups[:4]:
        count = _candidates(executor, group)
        if count < SMALL_DRIVER:
            return Plan("driven", group)
        counted.append((count, group))
    fewest, best = min(counted, key=lambda item: item[0])
    driven = Plan("driven", best)
    if walk is None:
        return driven
    if bound < fewest:
        return walk
    table_runs = _table_runs(executor)
    # Entries read until ``limit`` match: table_runs / count per driver (independence).
    reads = parts.limit * math.prod(table_runs / min(count, table_runs) for count, _ in counted)
    if walk.kind == "generic":
        return walk if reads < fewest else driven
    # Ordered: also divided by the scope's share, scope / table_runs; worth it above this.
    needed = math.ceil(reads * table_runs / fewest)
    if needed > table_runs:
        return driven
    return walk if _scope_reaches(parts, executor, table_runs, needed) else driven


def _candidates(executor: Executor, group: Driver) -> int:
    table = keyed_table(group[0].field.entity)
    conditions = [keyed_condition(table, clause) for clause in group]
    return _count(executor, select(literal(1)).where(*conditions), PROBE_CAP)


def _table_runs(executor: Executor) -> int:
    """About how many runs the table holds (an upper bound; exact unless runs were deleted)."""
    rows = executor.all(select(func.max(literal_column("rowid"))).select_from(runs))
    return max(int(rows[0][0] or 0), 1)


def _scope_reaches(parts: RunSearchParts, executor: Executor, table_runs: int, needed: int) -> bool:
    """Whether at least ``needed`` runs are in the searched experiments."""
    ids = sorted(set(parts.experiment_ids))
    outside_cap = table_runs - needed + 1
    if outside_cap < needed and len(ids) < MAX_GAPS:
        outside = _count(executor, select(literal(1)).where(_outside(ids)), outside_cap)
        return table_runs - outside >= needed
    inside = select(literal(1)).where(runs.c.experiment_id.in_(ids))
    return _count(executor, inside, needed) >= needed


def _outside(ids: list[int]) -> ColumnElement[bool]:
    """``experiment_id`` not in ``ids`` (sorted), as index ranges SQLite can search."""
    column = runs.c.experiment_id
    gaps = [column < ids[0], column > ids[-1]]
    gaps += [and_(column > low, column < high) for low, high in itertools.pairwise(ids)]
    return or_(*gaps)


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
