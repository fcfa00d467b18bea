"""Compile a run-filter tree into a SQL condition on the ``runs`` table.

Metric, param and tag clauses become correlated ``EXISTS`` subqueries that look the row up by
its primary key (run_id, key); attribute clauses test ``runs`` columns directly. That shape is
correct under any mix of AND, OR and NOT. The planner in ``run_plans`` may additionally turn one
top-level clause into the driving table of the query; ``keyed_condition`` is shared so both
forms test exactly the same thing.

Semantics (reference §13.4): a metric clause compares the *latest* value only; a NaN latest
value (stored as NULL) fails every comparison except ``!=``, which it passes. ``!=`` and
``NOT IN`` on a param or tag require the key to be present, as in MLflow; ``NOT (...)`` is plain
negation and so also matches runs without the key.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, false, not_, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from runstack.search.nodes import And, Comparison, Field, InList, IsNull, Node, Not, Or
from runstack.search.predicates import (
    id_condition,
    number_condition,
    number_literal,
    string_condition,
)
from runstack.store.sql.schema import latest_metrics, params, runs, tags

# Attribute key -> runs column name (run_name is kept in sync with the mlflow.runName tag).
_RUN_COLUMNS = {
    "run_id": "run_id",
    "run_name": "name",
    "status": "status",
    "user_id": "user_id",
    "artifact_uri": "artifact_uri",
    "start_time": "start_time",
    "end_time": "end_time",
    "experiment_id": "experiment_id",
}
_NULLABLE_COLUMNS = frozenset({"end_time"})


def keyed_table(entity: str) -> FromClause:
    """The table holding metrics, params or tags by (run_id, key)."""
    return {"metric": latest_metrics, "param": params, "tag": tags}[entity]


def run_column(key: str) -> ColumnElement[Any]:
    column: ColumnElement[Any] = runs.c[_RUN_COLUMNS[key]]
    return column


def keyed_condition(table: FromClause, clause: Comparison | InList) -> ColumnElement[bool]:
    """The condition on one (run_id, key) row of ``table`` that ``clause`` asks for."""
    field = clause.field
    key_matches = table.c.key == field.key
    if field.entity != "metric":
        return key_matches & string_condition(table.c.value, clause)
    assert isinstance(clause, Comparison)
    value = table.c.value
    if clause.op == "!=":  # NaN (NULL) passes != as in MLflow
        return key_matches & or_(value != number_literal(clause.value), value.is_(None))
    return key_matches & number_condition(value, clause)


def run_condition(node: Node) -> ColumnElement[bool]:
    """SQL condition on ``runs`` equivalent to the filter ``node``."""
    if isinstance(node, And):
        return and_(*(run_condition(item) for item in node.items))
    if isinstance(node, Or):
        return or_(*(run_condition(item) for item in node.items))
    if isinstance(node, Not):
        return not_(run_condition(node.item))
    if isinstance(node, IsNull):
        present = _exists(node.field, None)
        return present if node.negated else not_(present)
    field = node.field
    if field.entity == "dataset":
        return false()  # runstack records no dataset inputs, so no run has a matching one
    if field.entity != "attribute":
        return _exists(field, node)
    column = run_column(field.key)
    if field.value_type == "id":
        return id_condition(column, node)
    if field.value_type == "number":
        assert isinstance(node, Comparison)
        return number_condition(column, node, nullable=field.key in _NULLABLE_COLUMNS)
    return string_condition(column, node)


def _exists(field: Field, clause: Comparison | InList | None) -> ColumnElement[bool]:
    table = keyed_table(field.entity)
    condition = table.c.key == field.key if clause is None else keyed_condition(table, clause)
    return exists().where(table.c.run_id == runs.c.run_id, condition).correlate(runs)
