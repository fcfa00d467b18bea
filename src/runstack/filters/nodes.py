"""The syntax tree of a parsed filter, and its rendering back to filter text.

Nodes are frozen dataclasses so that trees compare by value (the parser tests and the
round-trip property test rely on that) and can be shared safely. Keys in ``Field`` are
canonical: prefixes and attribute aliases are resolved by the parser, so ``created`` and
``attributes.start_time`` give the same node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Entity = Literal["metric", "param", "tag", "attribute", "dataset"]
ValueType = Literal["number", "string", "id"]
Value = str | int | float

# Comparators as stored in the tree (keywords upper-case).
COMPARATORS = ("=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE")


@dataclass(frozen=True)
class Field:
    """What a clause talks about: ``metrics.acc`` is ``Field("metric", "acc", "number")``."""

    entity: Entity
    key: str
    value_type: ValueType


@dataclass(frozen=True)
class Comparison:
    field: Field
    op: str  # one of COMPARATORS
    value: Value


@dataclass(frozen=True)
class InList:
    field: Field
    values: tuple[Value, ...]
    negated: bool  # NOT IN


@dataclass(frozen=True)
class IsNull:
    field: Field
    negated: bool  # IS NOT NULL


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]  # at least two; never directly contains another And


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]  # at least two; never directly contains another Or


@dataclass(frozen=True)
class Not:
    item: Node


Clause = Comparison | InList | IsNull
Node = Comparison | InList | IsNull | And | Or | Not

_PREFIX_TEXT: dict[str, str] = {
    "metric": "metrics",
    "param": "params",
    "tag": "tags",
    "attribute": "attributes",
    "dataset": "datasets",
}
_BARE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*")


def field_text(field: Field) -> str:
    """``Field("metric", "my acc", ...)`` -> ``metrics.`my acc```."""
    key = field.key
    if not _BARE_KEY.fullmatch(key):
        key = "`" + key.replace("`", "``") + "`"
    return f"{_PREFIX_TEXT[field.entity]}.{key}"


def value_text(value: Value) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def to_filter_text(node: Node) -> str:
    """Render a tree as filter text that parses back to an equal tree."""
    if isinstance(node, Comparison):
        return f"{field_text(node.field)} {node.op} {value_text(node.value)}"
    if isinstance(node, InList):
        values = ", ".join(value_text(v) for v in node.values)
        return f"{field_text(node.field)} {'NOT IN' if node.negated else 'IN'} ({values})"
    if isinstance(node, IsNull):
        return f"{field_text(node.field)} IS {'NOT NULL' if node.negated else 'NULL'}"
    if isinstance(node, Not):
        inner = to_filter_text(node.item)
        return f"NOT ({inner})" if isinstance(node.item, (And, Or)) else f"NOT {inner}"
    if isinstance(node, And):
        return " AND ".join(
            f"({to_filter_text(i)})" if isinstance(i, Or) else to_filter_text(i) for i in node.items
        )
    return " OR ".join(to_filter_text(i) for i in node.items)
