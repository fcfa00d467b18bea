"""``build_experiment_search``: one page of ``search_experiments`` as SQL, with keyset paging.

Filters use the experiment vocabulary (MLflow's ``name``, ``creation_time``,
``last_update_time``, ``experiment_id``, ``tags.<key>``) with the same extensions as run search
(OR, NOT, parentheses, IN on strings, ``attributes.``/``attr.`` prefixes). Order: the
order_by keys, then ``experiment_id ASC`` as the tie-breaker; by default
``creation_time DESC, experiment_id ASC`` as MLflow's SQL store does.

The experiments table is small, so one statement serves every backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, exists, not_, or_, select, true
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from runstack.entities import ViewType
from runstack.filters.nodes import And, Comparison, InList, IsNull, Node, Not, Or
from runstack.filters.paging import check_max_results, decode_token, encode_token
from runstack.filters.parser import OrderKey, parse_experiment_filter, parse_order_by
from runstack.store.sql.query.conditions import id_condition, number_condition, string_condition
from runstack.store.sql.query.constructs import sortable
from runstack.store.sql.query.executor import Executor, as_executor
from runstack.store.sql.query.ordering import (
    SortTerm,
    after_condition,
    key_columns,
    key_labels,
    order_clauses,
    split_values,
)
from runstack.store.sql.schema import experiment_tags, experiments

__all__ = ["ExperimentPage", "ExperimentSearchQuery", "build_experiment_search"]

_DEFAULT_ORDER = [OrderKey("attribute", "creation_time", False, "number")]


@dataclass(frozen=True)
class ExperimentPage:
    experiment_ids: list[int]
    next_page_token: str | None  # None on the last page


class ExperimentSearchQuery:
    """One page of an experiment search: ``statement`` yields experiment_id and k0..kN."""

    def __init__(
        self,
        statement: Select[Any],
        keys: Sequence[OrderKey],
        terms: Sequence[SortTerm],
        max_results: int,
    ) -> None:
        self.statement = statement
        self.max_results = max_results
        self._signature = _signature(keys)
        self._labels = key_labels(terms)

    def next_page_token(self, row: Any) -> str:
        """The token for the page that starts after ``row`` (a row of this query)."""
        return encode_token(self._signature, [getattr(row, label) for label in self._labels])

    def page(self, rows: Sequence[Any]) -> ExperimentPage:
        """Cut up to ``max_results + 1`` fetched rows into a page and its next token."""
        ids = [int(row.experiment_id) for row in rows[: self.max_results]]
        more = len(rows) > self.max_results
        token = self.next_page_token(rows[self.max_results - 1]) if more else None
        return ExperimentPage(ids, token)

    def fetch_page(self, target: Executor | Connection) -> ExperimentPage:
        """Execute on the store's ``Tx`` or a SQLAlchemy connection and return the page."""
        return self.page(as_executor(target).all(self.statement))


def build_experiment_search(
    filter_text: str | None,
    view_type: ViewType,
    max_results: int,
    order_by: list[str] | None,
    page_token: str | None,
) -> ExperimentSearchQuery:
    """Parse and validate everything up front; raise InvalidParameterError on bad input."""
    max_results = check_max_results(max_results)
    node = parse_experiment_filter(filter_text)
    keys = parse_order_by(order_by, for_runs=False) or list(_DEFAULT_ORDER)
    if not any(k.key == "experiment_id" for k in keys):
        keys.append(OrderKey("attribute", "experiment_id", True, "id"))
    terms = [_sort_term(key) for key in keys]
    condition = true() if node is None else experiment_condition(node)
    conditions = [_view_condition(view_type), condition]
    if page_token:
        after = split_values(terms, decode_token(page_token, _signature(keys)))
        conditions.append(after_condition(terms, after))
    statement = (
        select(experiments.c.experiment_id, *key_columns(terms))
        .where(*conditions)
        .order_by(*order_clauses(terms))
        .limit(max_results + 1)
    )
    return ExperimentSearchQuery(statement, keys, terms, max_results)


def experiment_condition(node: Node) -> ColumnElement[bool]:
    """SQL condition on ``experiments`` equivalent to the filter ``node``."""
    if isinstance(node, And):
        return and_(*(experiment_condition(item) for item in node.items))
    if isinstance(node, Or):
        return or_(*(experiment_condition(item) for item in node.items))
    if isinstance(node, Not):
        return not_(experiment_condition(node.item))
    if isinstance(node, IsNull):
        present = _tag_exists(node.field.key, None)
        return present if node.negated else not_(present)
    field = node.field
    if field.entity == "tag":
        return _tag_exists(field.key, node)
    column = experiments.c[field.key]
    if field.value_type == "id":
        return id_condition(column, node)
    if field.value_type == "number":
        assert isinstance(node, Comparison)
        return number_condition(column, node)
    return string_condition(column, node)


def _tag_exists(key: str, clause: Comparison | InList | None) -> ColumnElement[bool]:
    table = experiment_tags
    condition = table.c.key == key
    if clause is not None:
        condition = condition & string_condition(table.c.value, clause)
    return (
        exists()
        .where(table.c.experiment_id == experiments.c.experiment_id, condition)
        .correlate(experiments)
    )


def _view_condition(view_type: ViewType) -> ColumnElement[bool]:
    view = ViewType(view_type)
    if view == ViewType.ACTIVE_ONLY:
        return experiments.c.lifecycle_stage == "active"
    if view == ViewType.DELETED_ONLY:
        return experiments.c.lifecycle_stage == "deleted"
    return true()


def _sort_term(key: OrderKey) -> SortTerm:
    column = experiments.c[key.key]
    if key.key == "name":
        return SortTerm(sortable(column), not key.ascending, "str")
    return SortTerm(column, not key.ascending, "int")


def _signature(keys: Sequence[OrderKey]) -> list[Any]:
    return ["experiments", [[k.entity, k.key, k.ascending] for k in keys]]
