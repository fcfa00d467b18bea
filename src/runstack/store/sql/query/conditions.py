"""Compile a filter tree into a two-valued SQL condition: runs, their datasets, one column.

**Runs.** Metric, param and tag clauses become correlated ``EXISTS`` subqueries that look one
row up by (run_id, key), through the (key, value, run_id) index for an exact value
(``constructs.exact_text``); attribute clauses test ``runs`` columns directly. That shape is
correct under any mix of AND, OR and NOT. The lookups correlate with whichever table drives the
statement (``source``), so that SQLite can reject a candidate before it reads its ``runs`` row.
The planner (``plans``) may additionally turn top-level clauses into the driving table of the
query or into bounds of an index walk; ``keyed_condition`` is shared so every form tests exactly
the same thing.

The rules, as in MLflow: a metric clause compares the run's *latest* value only; a NaN latest
value (stored as NULL) fails every comparison except ``!=``, which it passes. ``!=`` and
``NOT IN`` on a param or tag require the key to be present; ``NOT (...)`` is plain negation and
so also matches runs without the key.

**Datasets.** A ``datasets.name``/``digest``/``context`` clause asks whether the run has *some*
dataset input that satisfies it: ``datasets.name != 'x'`` matches a run with any input not named
``x`` (and no run without inputs), and two clauses may be satisfied by two different inputs. The
context is the input tag ``mlflow.data.context``; an input without one satisfies no context
clause. Each clause is a correlated ``EXISTS`` over the run's inputs (found by run_id through the
(run_id, dataset_id) unique index), so it composes with AND, OR and NOT like every other lookup.

**One column** (shared with experiment search): every condition is two-valued (never SQL NULL)
so that ``NOT`` in a filter means plain logical negation: a nullable column is tested for NULL
explicitly. All values are bound parameters with explicit types (an integer literal compared
with a float column must not be cast to an integer on PostgreSQL, nor a float literal to
BIGINT).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from sqlalchemy import BigInteger, Float, String, and_, exists, literal, not_, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause, TableClause

from runstack.filters.nodes import And, Comparison, Field, InList, IsNull, Node, Not, Or, Value
from runstack.store.sql.query.constructs import exact_text, like, value_lookup_table
from runstack.store.sql.schema import (
    datasets,
    input_tags,
    latest_metrics,
    params,
    run_inputs,
    runs,
    tags,
)
from runstack.tags import DATA_CONTEXT

_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def number_literal(value: Value) -> ColumnElement[Any]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"not a number: {value!r}")
    return literal(value, BigInteger() if isinstance(value, int) else Float(53))


def string_literal(value: Value) -> ColumnElement[Any]:
    return literal(str(value), String())


def number_condition(
    column: ColumnElement[Any], clause: Comparison, nullable: bool = False
) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = _OPERATORS[clause.op](column, number_literal(clause.value))
    return and_(column.is_not(None), condition) if nullable else condition


def string_condition(
    column: ColumnElement[Any], clause: Comparison | InList
) -> ColumnElement[bool]:
    """``=``, ``!=``, ``LIKE``, ``ILIKE``, ``IN``, ``NOT IN`` on a NOT NULL text column."""
    if isinstance(clause, InList):
        values = [str(v) for v in clause.values]
        return column.not_in(values) if clause.negated else column.in_(values)
    if clause.op in ("LIKE", "ILIKE"):
        return like(column, str(clause.value), case_sensitive=clause.op == "LIKE")
    result: ColumnElement[bool] = _OPERATORS[clause.op](column, string_literal(clause.value))
    return result


def id_condition(column: ColumnElement[Any], clause: Comparison | InList) -> ColumnElement[bool]:
    """Experiment ids: ``=``, ``!=``, ``IN``, ``NOT IN`` with integers."""
    if isinstance(clause, InList):
        values = [int(v) for v in clause.values]
        return column.not_in(values) if clause.negated else column.in_(values)
    result: ColumnElement[bool] = _OPERATORS[clause.op](column, number_literal(int(clause.value)))
    return result


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
# Attributes computed from columns (NULL when a column they use is).
_COMPUTED = {"duration": lambda: runs.c.end_time - runs.c.start_time}
_NULLABLE_COLUMNS = frozenset({"end_time", "duration"})


def keyed_table(entity: str) -> TableClause:
    """The table holding metrics, params or tags by (run_id, key)."""
    return {"metric": latest_metrics, "param": params, "tag": tags}[entity]


def is_exact_lookup(clause: Comparison | InList) -> bool:
    """``=`` or ``IN`` on a metric, param or tag: one (key, value) index entry per run."""
    if isinstance(clause, InList):
        return not clause.negated
    return clause.op == "="


def run_column(key: str) -> ColumnElement[Any]:
    """The column, or the expression, an attribute reads."""
    computed = _COMPUTED.get(key)
    column: ColumnElement[Any] = computed() if computed else runs.c[_RUN_COLUMNS[key]]
    return column


def keyed_condition(table: FromClause, clause: Comparison | InList) -> ColumnElement[bool]:
    """The condition on one (run_id, key) row of ``table`` that ``clause`` asks for."""
    field = clause.field
    key_matches = table.c.key == field.key
    if field.entity != "metric":
        if is_exact_lookup(clause):
            values = clause.values if isinstance(clause, InList) else (clause.value,)
            return key_matches & exact_text(table.c.value, [str(v) for v in values])
        return key_matches & string_condition(table.c.value, clause)
    assert isinstance(clause, Comparison)
    value = table.c.value
    if clause.op == "!=":  # NaN (NULL) passes != as in MLflow
        return key_matches & or_(value != number_literal(clause.value), value.is_(None))
    return key_matches & number_condition(value, clause)


def run_condition(node: Node, source: FromClause = runs) -> ColumnElement[bool]:
    """SQL condition on ``runs`` equivalent to the filter ``node``.

    Lookups correlate with ``source.c.run_id``: ``runs`` or a table joined to it on run_id.
    """
    if isinstance(node, And):
        items = sorted(node.items, key=lookup_cost)
        return and_(*(run_condition(item, source) for item in items))
    if isinstance(node, Or):
        return or_(*(run_condition(item, source) for item in node.items))
    if isinstance(node, Not):
        return not_(run_condition(node.item, source))
    if isinstance(node, IsNull):
        present = _exists(node.field, None, source)
        return present if node.negated else not_(present)
    field = node.field
    if field.entity == "dataset":
        return dataset_condition(node, source)
    if field.entity != "attribute":
        return _exists(field, node, source)
    column = run_column(field.key)
    if field.value_type == "id":
        return id_condition(column, node)
    if field.value_type == "number":
        assert isinstance(node, Comparison)
        return number_condition(column, node, nullable=field.key in _NULLABLE_COLUMNS)
    return string_condition(column, node)


def _exists(
    field: Field, clause: Comparison | InList | None, source: FromClause
) -> ColumnElement[bool]:
    table: FromClause = keyed_table(field.entity)
    if clause is None:
        condition = table.c.key == field.key
    else:
        if _one_value(clause):
            table = value_lookup_table(keyed_table(field.entity))
        condition = keyed_condition(table, clause)
    return exists().where(table.c.run_id == source.c.run_id, condition).correlate(source)


def _one_value(clause: Comparison | InList) -> bool:
    """An exact lookup of one value: one descent into the covering value index.

    With several values the primary key is cheaper: two descents, then any number of values
    tested on the row.
    """
    return is_exact_lookup(clause) and (isinstance(clause, Comparison) or len(clause.values) == 1)


def lookup_cost(node: Node) -> int:
    """Cheapest first: SQLite tests ANDed conditions in the order they are written.

    A test of a ``runs`` column costs nothing once the row is read; a one-value lookup is one
    index descent (and usually selective); other lookups read the primary key, then the row.
    """
    if isinstance(node, (Comparison, InList)):
        if node.field.entity == "attribute":
            return 0
        if node.field.entity == "dataset":  # the run's inputs, then each one's dataset
            return 2
        return 1 if _one_value(node) else 2
    return 1 if isinstance(node, IsNull) else 3


def dataset_condition(clause: Comparison | InList, source: FromClause) -> ColumnElement[bool]:
    """The run (``source.c.run_id``) has an input whose dataset field satisfies ``clause``."""
    uses = run_inputs.alias("dataset_use")
    key = clause.field.key
    if key == "context":
        tags = input_tags.alias("dataset_context")
        found = exists().where(
            uses.c.run_id == source.c.run_id,
            tags.c.input_id == uses.c.input_id,
            tags.c.key == DATA_CONTEXT,
            string_condition(tags.c.value, clause),
        )
    else:
        used = datasets.alias("dataset_used")
        found = exists().where(
            uses.c.run_id == source.c.run_id,
            used.c.dataset_id == uses.c.dataset_id,
            string_condition(used.c[key], clause),
        )
    return found.correlate(source)
