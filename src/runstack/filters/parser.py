"""Recursive-descent parser for search filters and ``order_by`` items.

Grammar (MLflow's search-filter grammar, plus runstack's ``OR``, ``NOT`` and parentheses)::

    filter     := [or_expr] EOF
    or_expr    := and_expr ("OR" and_expr)*
    and_expr   := not_expr ("AND" not_expr)*
    not_expr   := "NOT" not_expr | "(" or_expr ")" | clause
    clause     := field ( OP value | ["NOT"] "IN" "(" value ("," value)* ")"
                        | ("LIKE" | "ILIKE") value | "IS" ["NOT"] "NULL" )
    field      := [prefix "."] key          -- split on the first dot; key may be `quoted`
    order_item := field ["ASC" | "DESC"] EOF

Keywords are case-insensitive. Which comparators and literal types a field accepts comes from
the vocabulary; every rejection names the position in the text (see ``Source.fail``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

from runstack.errors import InvalidParameterError
from runstack.filters.limits import FilterBudget, check_order_by_count
from runstack.filters.nodes import (
    And,
    Comparison,
    Entity,
    Field,
    InList,
    IsNull,
    Node,
    Not,
    Or,
    Value,
    ValueType,
    field_text,
)
from runstack.filters.tokenizer import Source, Token, tokenize
from runstack.filters.vocabulary import EXPERIMENT_VOCABULARY, RUN_VOCABULARY, Vocabulary

__all__ = [
    "OrderKey",
    "parse_experiment_filter",
    "parse_order_by",
    "parse_run_filter",
]

_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL"})
_OP_ORDER = (
    *("=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE"),
    *("IN", "NOT IN", "IS NULL", "IS NOT NULL"),
)
_COMPARATORS_TEXT = "=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL"
_INTEGER = re.compile(r"[+-]?[0-9]+")
_INT64 = range(-(2**63), 2**63)


@dataclass(frozen=True)
class OrderKey:
    """One ``order_by`` item: ``metrics.acc DESC`` is ``OrderKey("metric", "acc", False)``."""

    entity: Entity
    key: str
    ascending: bool
    value_type: ValueType = "string"


def parse_run_filter(text: str | None) -> Node | None:
    """Parse a ``search_runs`` filter; ``None`` for an empty or blank filter."""
    return _parse_filter(text, RUN_VOCABULARY)


def parse_experiment_filter(text: str | None) -> Node | None:
    """Parse a ``search_experiments`` filter; ``None`` for an empty or blank filter."""
    return _parse_filter(text, EXPERIMENT_VOCABULARY)


def parse_order_by(items: Sequence[str] | None, for_runs: bool = True) -> list[OrderKey]:
    """Parse ``order_by`` items (only those given: the caller appends the implicit tail).

    A field named twice, under any spelling, is rejected with INVALID_PARAMETER_VALUE (MLflow
    raises an error without a code there).
    """
    if items is None:
        return []
    if isinstance(items, str):
        raise InvalidParameterError(
            f"Invalid value {items!r} for parameter 'order_by': expected a list of strings "
            f"such as ['metrics.acc DESC'], not a single string."
        )
    check_order_by_count(len(items))
    vocabulary = RUN_VOCABULARY if for_runs else EXPERIMENT_VOCABULARY
    keys: list[OrderKey] = []
    seen: dict[tuple[str, str], str] = {}
    for item in items:
        if not isinstance(item, str):
            raise InvalidParameterError(
                f"Invalid order_by clause {item!r}: expected a string such as 'metrics.acc DESC'."
            )
        FilterBudget("order_by clause").check_text(item)
        key = _Parser(Source(item, "order_by clause"), vocabulary).order_item()
        earlier = seen.get((key.entity, key.key))
        if earlier is not None:
            raise InvalidParameterError(
                f"Invalid order_by: {item!r} orders by the same field as {earlier!r}; "
                f"each field may appear only once."
            )
        seen[(key.entity, key.key)] = item
        keys.append(key)
    return keys


def _parse_filter(text: str | None, vocabulary: Vocabulary) -> Node | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise InvalidParameterError(f"Invalid filter {text!r}: expected a string.")
    FilterBudget().check_text(text)
    return _Parser(Source(text, "filter"), vocabulary).filter()


def _describe(field: Field) -> str:
    return f"{field.entity} '{field.key}'"


class _Parser:
    def __init__(self, source: Source, vocabulary: Vocabulary) -> None:
        self.source = source
        self.vocabulary = vocabulary
        self.tokens = tokenize(source)
        self.index = 0
        self.budget = FilterBudget(source.label)  # checked as it reads: see filters/limits.py

    # -- token helpers ---------------------------------------------------------------------

    def peek(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "EOF":
            self.index += 1
        return token

    @staticmethod
    def is_keyword(token: Token, *words: str) -> bool:
        return token.kind == "IDENT" and token.text.upper() in words

    def unexpected(self, token: Token, expected: str) -> NoReturn:
        self.source.fail(token.start, f"unexpected {token.describe()}", expected)

    # -- filters ---------------------------------------------------------------------------

    def filter(self) -> Node | None:
        if self.peek().kind == "EOF":
            return None
        node = self.or_expr()
        token = self.peek()
        if token.kind != "EOF":
            if token.kind == "RPAREN":
                self.source.fail(token.start, "unmatched ')'", "AND, OR or the end of the filter")
            self.unexpected(token, "AND, OR or the end of the filter")
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.is_keyword(self.peek(), "OR"):
            self.advance()
            items.append(self.and_expr())
        return _combine(Or, items)

    def and_expr(self) -> Node:
        items = [self.not_expr()]
        while self.is_keyword(self.peek(), "AND"):
            self.advance()
            items.append(self.not_expr())
        return _combine(And, items)

    def not_expr(self) -> Node:
        token = self.peek()
        if self.is_keyword(token, "NOT"):
            self.advance()
            self.budget.enter(token.start)
            node: Node = Not(self.not_expr())
            self.budget.leave()
            return node
        if token.kind == "LPAREN":
            self.advance()
            self.budget.enter(token.start)
            node = self.or_expr()
            self.budget.leave()
            closing = self.peek()
            if closing.kind != "RPAREN":
                self.unexpected(closing, f"')' to close the '(' at position {token.start}")
            self.advance()
            return node
        self.budget.clause(token.start)
        return self.clause()

    def clause(self) -> Node:
        field = self.field()
        token = self.advance()
        op = self.comparator(token)
        allowed = self.vocabulary.allowed_ops(field.entity, field.value_type)
        if op not in allowed:
            choices = ", ".join(o for o in _OP_ORDER if o in allowed)
            problem = f"comparator {op} is not allowed for {_describe(field)}"
            self.source.fail(token.start, problem, f"one of {choices}")
        if op in ("IS NULL", "IS NOT NULL"):
            return IsNull(field, negated=op == "IS NOT NULL")
        if op in ("IN", "NOT IN"):
            return InList(field, self.value_list(field), negated=op == "NOT IN")
        return Comparison(field, op, self.value(field))

    def comparator(self, token: Token) -> str:
        """Read the comparator starting at ``token`` (already consumed)."""
        if token.kind == "OP":
            if token.text in ("==", "<>"):
                better = "'='" if token.text == "==" else "'!='"
                self.source.fail(token.start, f"unsupported comparator '{token.text}'", better)
            return token.text
        word = token.text.upper() if token.kind == "IDENT" else ""
        if word in ("LIKE", "ILIKE", "IN"):
            return word
        if word == "NOT":
            following = self.advance()
            if not self.is_keyword(following, "IN"):
                self.unexpected(following, "IN after NOT (use NOT (...) to negate a clause)")
            return "NOT IN"
        if word == "IS":
            following = self.advance()
            negated = self.is_keyword(following, "NOT")
            if negated:
                following = self.advance()
            if not self.is_keyword(following, "NULL"):
                self.unexpected(following, "NULL" if negated else "NULL or NOT NULL")
            return "IS NOT NULL" if negated else "IS NULL"
        self.unexpected(token, f"a comparator ({_COMPARATORS_TEXT})")

    def value_list(self, field: Field) -> tuple[Value, ...]:
        opening = self.advance()
        if opening.kind != "LPAREN":
            self.unexpected(opening, "'(' and a list of values, e.g. ('a', 'b')")
        self.budget.value(opening.start)
        values = [self.value(field)]
        while self.peek().kind == "COMMA":
            self.budget.value(self.advance().start)
            values.append(self.value(field))
        closing = self.advance()
        if closing.kind != "RPAREN":
            self.unexpected(closing, "',' or ')'")
        return tuple(values)

    def value(self, field: Field) -> Value:
        token = self.advance()
        quoted = token.kind == "STRING" and token.quote != "`"
        if field.value_type == "number":
            if token.kind == "NUMBER":
                return _number(token.text)
            if quoted:
                self.source.fail(
                    token.start,
                    f"quoted value {token.text} for {_describe(field)}",
                    "a number without quotes (e.g. 0.5)",
                )
            self.unexpected(token, f"a number for {_describe(field)} (e.g. 0.5)")
        if field.value_type == "id":
            text = token.value.strip() if quoted else token.text
            if (quoted or token.kind == "NUMBER") and _INTEGER.fullmatch(text):
                return int(text)
            if quoted or token.kind == "NUMBER":
                problem = f"invalid experiment id {token.text}"
                self.source.fail(token.start, problem, "an integer id")
            self.unexpected(token, "an experiment id such as '1'")
        if quoted:
            return token.value
        if token.kind in ("NUMBER", "IDENT"):
            self.source.fail(
                token.start,
                f"unquoted value {token.text} for {_describe(field)}",
                "a quoted string (e.g. 'my-value')",
            )
        self.unexpected(token, f"a quoted string for {_describe(field)} (e.g. 'my-value')")

    # -- identifiers -----------------------------------------------------------------------

    def field(self) -> Field:
        token = self.advance()
        expected = "an identifier such as metrics.acc, params.lr, tags.team or an attribute"
        if token.kind == "STRING" and token.quote in '`"':
            return self.resolve(None, token.value, token.start, token.start)
        if token.kind != "IDENT" or ("." not in token.text and token.text.upper() in _KEYWORDS):
            self.unexpected(token, expected)
        if "." not in token.text:
            return self.resolve(None, token.text, token.start, token.start)
        prefix, _, key = token.text.partition(".")
        key_position = token.start + len(prefix) + 1
        if token.text.endswith("."):
            if key:
                self.source.fail(token.end - 1, "a key cannot end with '.'", "a key")
            quoted = self.peek()
            if quoted.kind != "STRING" or quoted.quote not in '`"' or quoted.start != token.end:
                problem = f"missing key after '{token.text}'"
                self.source.fail(token.end, problem, "a key (quote it with backticks)")
            self.advance()
            key, key_position = quoted.value, quoted.start
        return self.resolve(prefix, key, token.start, key_position)

    def resolve(self, prefix: str | None, key: str, prefix_at: int, key_at: int) -> Field:
        vocabulary = self.vocabulary
        entity: Entity | None = "attribute"
        if prefix is not None:
            entity = vocabulary.prefixes.get(prefix.lower())
            if entity is None:
                problem = f"invalid entity type '{prefix}'"
                self.source.fail(prefix_at, problem, f"one of {vocabulary.valid_prefixes()}")
        if not key:
            self.source.fail(key_at, "empty key", "a non-empty key")
        if entity == "attribute":
            canonical = vocabulary.aliases.get(key, key)
            if canonical in vocabulary.rejected:
                self.source.fail(
                    key_at,
                    f"attribute '{key}' cannot be used in {vocabulary.name} search "
                    f"({vocabulary.rejected[canonical]})",
                    f"one of {vocabulary.valid_attributes()}",
                )
            value_type = vocabulary.attributes.get(canonical)
            if value_type is None:
                problem = f"invalid attribute key '{key}'"
                self.source.fail(key_at, problem, f"one of {vocabulary.valid_attributes()}")
            return Field("attribute", canonical, value_type)
        if entity == "dataset":
            if key not in vocabulary.dataset_keys:
                valid = ", ".join(sorted(vocabulary.dataset_keys))
                self.source.fail(key_at, f"invalid dataset key '{key}'", f"one of {valid}")
            return Field("dataset", key, "string")
        assert entity is not None
        return Field(entity, key, "number" if entity == "metric" else "string")

    # -- order_by --------------------------------------------------------------------------

    def order_item(self) -> OrderKey:
        start = self.peek()
        if start.kind == "EOF":
            self.unexpected(start, "a field such as metrics.acc, optionally with ASC or DESC")
        field = self.field()
        if field.entity not in self.vocabulary.orderable:
            allowed = ", ".join(sorted(self.vocabulary.orderable))
            self.source.fail(
                start.start, f"cannot order by {field_text(field)}", f"a field of type {allowed}"
            )
        ascending = True
        token = self.peek()
        if self.is_keyword(token, "ASC", "DESC"):
            ascending = token.text.upper() == "ASC"
            self.advance()
            token = self.peek()
        if token.kind != "EOF":
            self.unexpected(token, "ASC, DESC or the end of the clause")
        return OrderKey(field.entity, field.key, ascending, field.value_type)


def _combine(kind: type[And] | type[Or], items: list[Node]) -> Node:
    """Build an And/Or, absorbing directly nested nodes of the same kind."""
    if len(items) == 1:
        return items[0]
    flat: list[Node] = []
    for item in items:
        flat.extend(item.items if isinstance(item, kind) else (item,))
    return kind(tuple(flat))


def _number(text: str) -> int | float:
    """An integer literal stays an int when it fits a 64-bit column, anything else is a float."""
    if _INTEGER.fullmatch(text) and int(text) in _INT64:
        return int(text)
    return float(text)
