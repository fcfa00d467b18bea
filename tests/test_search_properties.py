"""Property tests of the parser: trees round-trip through text; no input makes it crash."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runstack.errors import InvalidParameterError
from runstack.filters import parse_experiment_filter, parse_order_by, parse_run_filter
from runstack.filters.nodes import (
    And,
    Comparison,
    Field,
    InList,
    IsNull,
    Node,
    Not,
    Or,
    to_filter_text,
)
from runstack.filters.vocabulary import EXPERIMENT_VOCABULARY, RUN_VOCABULARY, Vocabulary

# Storable text: a filter holding NUL or a lone surrogate is refused before parsing (no
# database can compare them), so the round trip is over every other character.
storable = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
keys = st.text(storable, min_size=1, max_size=12)
strings = st.text(storable, max_size=12)
numbers = st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
ids = st.integers(-(2**63), 2**63 - 1)


def fields(vocabulary: Vocabulary) -> st.SearchStrategy[Field]:
    attributes = [Field("attribute", k, t) for k, t in vocabulary.attributes.items()]
    options = [st.sampled_from(attributes)]
    entities = set(vocabulary.prefixes.values())
    for entity in ("metric", "param", "tag"):
        if entity in entities:
            kind = "number" if entity == "metric" else "string"
            options.append(keys.map(lambda k, e=entity, t=kind: Field(e, k, t)))  # type: ignore[misc]
    if vocabulary.dataset_keys:
        names = sorted(vocabulary.dataset_keys)
        options.append(st.sampled_from([Field("dataset", k, "string") for k in names]))
    return st.one_of(options)


@st.composite
def clauses(draw: st.DrawFn, vocabulary: Vocabulary) -> Node:
    field = draw(fields(vocabulary))
    ops = sorted(vocabulary.allowed_ops(field.entity, field.value_type))
    op = draw(st.sampled_from(ops))
    values = {"number": numbers, "string": strings, "id": ids}[field.value_type]
    if op in ("IS NULL", "IS NOT NULL"):
        return IsNull(field, negated=op == "IS NOT NULL")
    if op in ("IN", "NOT IN"):
        listed = draw(st.lists(values, min_size=1, max_size=3))
        return InList(field, tuple(listed), negated=op == "NOT IN")
    return Comparison(field, op, draw(values))


def trees(vocabulary: Vocabulary) -> st.SearchStrategy[Node]:
    def extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
        several = st.lists(children, min_size=2, max_size=3).map(tuple)
        return st.one_of(several.map(And), several.map(Or), children.map(Not))

    return st.recursive(clauses(vocabulary), extend, max_leaves=6)


def normalise(node: Node) -> Node:
    """What the parser builds: directly nested And in And (Or in Or) merged."""
    if isinstance(node, (And, Or)):
        flat: list[Node] = []
        for item in (normalise(i) for i in node.items):
            same_kind = isinstance(item, (And, Or)) and type(item) is type(node)
            flat.extend(item.items if isinstance(item, (And, Or)) and same_kind else (item,))
        return type(node)(tuple(flat))
    if isinstance(node, Not):
        return Not(normalise(node.item))
    return node


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(trees(RUN_VOCABULARY))
def test_run_filters_round_trip(tree: Node) -> None:
    text = to_filter_text(tree)
    assert parse_run_filter(text) == normalise(tree), text


@settings(max_examples=200, deadline=None)
@given(trees(EXPERIMENT_VOCABULARY))
def test_experiment_filters_round_trip(tree: Node) -> None:
    text = to_filter_text(tree)
    assert parse_experiment_filter(text) == normalise(tree), text


def _check_rejection(error: InvalidParameterError, text: str) -> None:
    assert error.error_code == "INVALID_PARAMETER_VALUE"
    if "\x00" in text or any("\ud800" <= c <= "\udfff" for c in text):
        # Refused whole before parsing: no database can compare NUL or a lone surrogate.
        assert "cannot be stored" in error.message, error.message
        return
    lines = error.message.split("\n")
    position = int(lines[0].split(" at position ")[1].split(";")[0].split(".")[0])
    assert 0 <= position <= len(text)
    assert lines[-1] == "    " + " " * position + "^"


# Text built from the grammar's own pieces reaches deep into the parser far more often than
# arbitrary characters do.
_PIECES = [
    "metrics.acc", "params.lr", "tags.`a b`", "run_name", "created", "experiment_id",
    "datasets.name", "AND", "OR", "NOT", "IN", "NOT IN", "LIKE", "ILIKE", "IS", "NULL", "(",
    ")", ",", "=", "!=", "<", ">=", "'x'", '"y"', "`z`", "1", "-2.5e3", "'", "`", '"', ".",
    ";", "foo.bar", "metrics.", " ",
]  # fmt: skip
grammar_soup = st.lists(st.sampled_from(_PIECES), max_size=12).map(" ".join)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40) | grammar_soup)
def test_parser_never_crashes(text: str) -> None:
    for parse in (parse_run_filter, parse_experiment_filter):
        try:
            parse(text)
        except InvalidParameterError as error:
            _check_rejection(error, text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=20) | grammar_soup, max_size=3))
def test_order_by_never_crashes(items: list[str]) -> None:
    for for_runs in (True, False):
        try:
            parse_order_by(items, for_runs=for_runs)
        except InvalidParameterError as error:
            assert error.error_code == "INVALID_PARAMETER_VALUE"
