"""``build_run_search``: one page of ``search_runs`` as SQL, plus its keyset page token.

Usage by the SQL store::

    query = build_run_search([1, 2], "metrics.acc > 0.9", ViewType.ACTIVE_ONLY, 100,
                             ["metrics.acc DESC"], page_token)
    page = db.read(query.fetch_page)   # the store's Tx, or a SQLAlchemy Connection
    page.run_ids, page.next_page_token # ids in order; None on the last page

``query.statement`` is the plain single-statement form (``run_id`` plus the sort-key columns
``k0..kN``, at most ``max_results + 1`` rows) for callers that want to execute it themselves;
``query.page(rows)`` then cuts the rows and makes the token. ``fetch_page`` returns the same
rows but may use faster statement shapes (see ``plans``): use it.

Ordering, as in MLflow: the order_by keys, then ``start_time DESC`` unless start_time was
given, then ``run_id ASC``. Missing values sort last in both directions; for metrics, real
values, then NaN, then missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, false
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from runstack.entities import ViewType
from runstack.errors import InvalidParameterError
from runstack.filters.nodes import And, Not, Or
from runstack.filters.paging import check_max_results, decode_token, encode_token
from runstack.filters.parser import OrderKey, parse_order_by, parse_run_filter
from runstack.store.sql.query.conditions import keyed_table, run_column
from runstack.store.sql.query.constructs import sortable
from runstack.store.sql.query.executor import Executor, as_executor
from runstack.store.sql.query.ordering import SortTerm, key_labels, split_values
from runstack.store.sql.query.plan_choice import choose_plan
from runstack.store.sql.query.plans import (
    KeyedOrder,
    Plan,
    RunSearchParts,
    driven_statement,
    generic_statement,
    segment_statement,
)
from runstack.store.sql.schema import runs

__all__ = ["RunPage", "RunSearchQuery", "build_run_search", "fetch_rows"]

_INT_ATTRIBUTES = frozenset({"start_time", "end_time", "experiment_id", "duration"})
_NULLABLE_INT_ATTRIBUTES = frozenset({"end_time", "duration"})  # missing sorts last


@dataclass(frozen=True)
class RunPage:
    run_ids: list[str]
    next_page_token: str | None  # None on the last page


class RunSearchQuery:
    """One page of a run search, ready to execute."""

    def __init__(self, parts: RunSearchParts, max_results: int) -> None:
        self.parts = parts
        self.max_results = max_results
        self.statement = generic_statement(parts)
        self._labels = key_labels(parts.terms)

    @property
    def reads_metrics(self) -> bool:
        """Whether the filter or the ordering involves a metric's latest value."""
        if any(key.entity == "metric" for key in self.parts.keys):
            return True
        pending = [self.parts.node] if self.parts.node is not None else []
        while pending:
            node = pending.pop()
            if isinstance(node, (And, Or)):
                pending.extend(node.items)
            elif isinstance(node, Not):
                pending.append(node.item)
            elif node.field.entity == "metric":
                return True
        return False

    def next_page_token(self, row: Any) -> str:
        """The token for the page that starts after ``row`` (a row of this query)."""
        values = [getattr(row, label) for label in self._labels]
        return encode_token(_signature(self.parts.keys), values)

    def page(self, rows: Sequence[Any]) -> RunPage:
        """Cut up to ``max_results + 1`` fetched rows into a page and its next token."""
        ids = [str(row.run_id) for row in rows[: self.max_results]]
        more = len(rows) > self.max_results
        token = self.next_page_token(rows[self.max_results - 1]) if more else None
        return RunPage(ids, token)

    def fetch_page(self, target: Executor | Connection, plan: Plan | None = None) -> RunPage:
        """Execute on the store's ``Tx`` or a SQLAlchemy connection and return the page.

        ``plan`` forces a statement shape (tests use it to check that all shapes agree).
        """
        return self.page(fetch_rows(self.parts, as_executor(target), plan))


def build_run_search(
    experiment_ids: list[int],
    filter_text: str | None,
    view_type: ViewType,
    max_results: int,
    order_by: list[str] | None,
    page_token: str | None,
) -> RunSearchQuery:
    """Parse and validate everything up front; raise InvalidParameterError on bad input."""
    max_results = check_max_results(max_results)
    node = parse_run_filter(filter_text)
    keys = _with_tail(parse_order_by(order_by, for_runs=True))
    ids = tuple(_experiment_id(value) for value in experiment_ids)
    terms, joins = _sort_terms(keys)
    after = None
    if page_token:
        after = tuple(split_values(terms, decode_token(page_token, _signature(keys))))
    parts = RunSearchParts(
        experiment_ids=ids,
        scope=_scope(ids, view_type),
        node=node,
        keys=tuple(keys),
        terms=tuple(terms),
        joins=tuple(joins),
        after=after,
        limit=max_results + 1,
    )
    return RunSearchQuery(parts, max_results)


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


def _with_tail(keys: list[OrderKey]) -> list[OrderKey]:
    names = {(k.entity, k.key) for k in keys}
    tail = list(keys)
    if ("attribute", "start_time") not in names:
        tail.append(OrderKey("attribute", "start_time", False, "number"))
    if ("attribute", "run_id") not in names:
        tail.append(OrderKey("attribute", "run_id", True, "string"))
    return tail


def _signature(keys: Sequence[OrderKey]) -> list[Any]:
    return ["runs", [[k.entity, k.key, k.ascending] for k in keys]]


def _experiment_id(value: object) -> int:
    """Ids are integers in the database; accept their string form too, as the API uses it."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and value.strip().isascii():
        return int(value)
    raise InvalidParameterError(
        f"Invalid experiment ID '{value}'. Experiment ID must be a valid integer."
    )


def _scope(ids: tuple[int, ...], view_type: ViewType) -> ColumnElement[bool]:
    in_experiments = runs.c.experiment_id.in_(ids) if ids else false()
    view = ViewType(view_type)
    if view == ViewType.ACTIVE_ONLY:
        return in_experiments & (runs.c.lifecycle_stage == "active")
    if view == ViewType.DELETED_ONLY:
        return in_experiments & (runs.c.lifecycle_stage == "deleted")
    return in_experiments


def _sort_terms(keys: Sequence[OrderKey]) -> tuple[list[SortTerm], list[KeyedOrder | None]]:
    terms: list[SortTerm] = []
    joins: list[KeyedOrder | None] = []
    for index, key in enumerate(keys):
        descending = not key.ascending
        if key.entity == "attribute":
            column = run_column(key.key)
            joins.append(None)
            if key.key in _NULLABLE_INT_ATTRIBUTES:
                rank = case((column.is_(None), 1), else_=0)
                terms.append(SortTerm(column, descending, "int", rank, 1))
            elif key.key in _INT_ATTRIBUTES:
                terms.append(SortTerm(column, descending, "int"))
            else:
                terms.append(SortTerm(sortable(column), descending, "str"))
            continue
        alias = keyed_table(key.entity).alias(f"order_{index}")
        joins.append(KeyedOrder(alias, key.entity, key.key))
        if key.entity == "metric":
            # 0: a real value, 1: NaN (row present, value NULL), 2: no such metric.
            rank = case((alias.c.run_id.is_(None), 2), (alias.c.value.is_(None), 1), else_=0)
            terms.append(SortTerm(alias.c.value, descending, "float", rank, 2))
        else:
            rank = case((alias.c.run_id.is_(None), 1), else_=0)
            terms.append(SortTerm(sortable(alias.c.value), descending, "str", rank, 1))
    return terms, joins
