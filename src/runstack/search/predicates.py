"""Turn one parsed clause into a SQL condition on a column; shared by run and experiment search.

Every condition built here is two-valued (never SQL NULL) so that ``NOT`` in a filter means
plain logical negation: a nullable column is tested for NULL explicitly. All values are bound
parameters with explicit types (an integer literal compared with a float column must not be
cast to an integer on PostgreSQL, nor a float literal to BIGINT).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from sqlalchemy import BigInteger, Float, String, and_, literal
from sqlalchemy.sql.elements import ColumnElement

from runstack.search.nodes import Comparison, InList, Value
from runstack.search.sql_constructs import like

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
