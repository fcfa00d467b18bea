"""The pieces every run-search statement is built from, and the plan that picks a statement.

Kept apart from the statement builders (``run_plans``) and the planner (``plan_choice``) so
that both can use them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

from sqlalchemy import and_
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from runstack.search.filter_parser import OrderKey
from runstack.search.nodes import And, Comparison, InList, Node
from runstack.search.order_key_filter import KeyFilter, split_filter
from runstack.search.ordering import SortTerm
from runstack.store.sql.schema import runs

PlanKind = Literal["generic", "driven", "ordered"]
# Drivable top-level clauses on one metric/param/tag key, ANDed (e.g. both ends of a range).
Driver = tuple[Comparison | InList, ...]


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
