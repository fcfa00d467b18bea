"""The filter and order_by parser: grammar, aliases, quoting, and where errors point."""

from __future__ import annotations

import pytest

from runstack.errors import InvalidParameterError
from runstack.filters import OrderKey, parse_experiment_filter, parse_order_by, parse_run_filter
from runstack.filters.nodes import And, Comparison, Field, InList, IsNull, Not, Or, to_filter_text

ACC = Field("metric", "acc", "number")
LR = Field("param", "lr", "string")
TEAM = Field("tag", "team", "string")
START = Field("attribute", "start_time", "number")
NAME = Field("attribute", "run_name", "string")


def error_of(text: str, experiments: bool = False) -> InvalidParameterError:
    with pytest.raises(InvalidParameterError) as raised:
        (parse_experiment_filter if experiments else parse_run_filter)(text)
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
    return raised.value


# -- grammar ------------------------------------------------------------------------------


def test_empty_filters_mean_no_filter() -> None:
    assert parse_run_filter(None) is None
    assert parse_run_filter("") is None
    assert parse_run_filter("  \t\n") is None
    assert parse_experiment_filter("") is None


def test_and_chain() -> None:
    node = parse_run_filter("metrics.acc > 0.5 AND params.lr = '0.1' and tags.team != 'x'")
    assert node == And(
        (Comparison(ACC, ">", 0.5), Comparison(LR, "=", "0.1"), Comparison(TEAM, "!=", "x"))
    )


def test_precedence_not_over_and_over_or() -> None:
    a, b, c = "params.lr = 'a'", "params.lr = 'b'", "params.lr = 'c'"
    ca, cb, cc = (Comparison(LR, "=", v) for v in "abc")
    assert parse_run_filter(f"{a} OR {b} AND {c}") == Or((ca, And((cb, cc))))
    assert parse_run_filter(f"({a} OR {b}) AND {c}") == And((Or((ca, cb)), cc))
    assert parse_run_filter(f"NOT {a} AND {b}") == And((Not(ca), cb))
    assert parse_run_filter(f"NOT ({a} AND {b})") == Not(And((ca, cb)))
    assert parse_run_filter(f"not not {a}") == Not(Not(ca))
    assert parse_run_filter(f"(({a}))") == ca


def test_nested_groups_are_flattened() -> None:
    ca, cb, cc = (Comparison(LR, "=", v) for v in "abc")
    text = "(params.lr = 'a' AND params.lr = 'b') AND params.lr = 'c'"
    assert parse_run_filter(text) == And((ca, cb, cc))
    text = "params.lr = 'a' OR (params.lr = 'b' OR params.lr = 'c')"
    assert parse_run_filter(text) == Or((ca, cb, cc))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.acc = 1", Comparison(ACC, "=", 1)),
        ("metrics.acc != -2.5", Comparison(ACC, "!=", -2.5)),
        ("metrics.acc < 1e-3", Comparison(ACC, "<", 0.001)),
        ("metrics.acc <= +3", Comparison(ACC, "<=", 3)),
        ("metrics.acc >= .5", Comparison(ACC, ">=", 0.5)),
        ("metrics.acc>5.", Comparison(ACC, ">", 5.0)),
        ("metrics.acc > 1E+2", Comparison(ACC, ">", 100.0)),
        ("metrics.acc > 99999999999999999999", Comparison(ACC, ">", 1e20)),
        ("params.lr LIKE '%1'", Comparison(LR, "LIKE", "%1")),
        ("params.lr ilike '%1'", Comparison(LR, "ILIKE", "%1")),
        ("params.lr IN ('a')", InList(LR, ("a",), negated=False)),
        ("params.lr not  in ('a', \"b\")", InList(LR, ("a", "b"), negated=True)),
        ("params.lr IS NULL", IsNull(LR, negated=False)),
        ("params.lr is not null", IsNull(LR, negated=True)),
        ("tags.team = 'it''s'", Comparison(TEAM, "=", "it's")),
        ('tags.team = "say ""hi"""', Comparison(TEAM, "=", 'say "hi"')),
        ("tags.team = 'a\\'", Comparison(TEAM, "=", "a\\")),
        ("tags.team = ''", Comparison(TEAM, "=", "")),
        ("tags.team = 'ünï €'", Comparison(TEAM, "=", "ünï €")),
    ],
)
def test_comparators_and_literals(text: str, expected: object) -> None:
    assert parse_run_filter(text) == expected


# -- identifiers ---------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["metric", "metrics", "METRICS"])
def test_metric_prefixes(prefix: str) -> None:
    assert parse_run_filter(f"{prefix}.acc > 1") == Comparison(ACC, ">", 1)


@pytest.mark.parametrize("prefix", ["param", "params", "parameter", "parameters"])
def test_param_prefixes(prefix: str) -> None:
    assert parse_run_filter(f"{prefix}.lr = 'x'") == Comparison(LR, "=", "x")


@pytest.mark.parametrize("prefix", ["tag", "tags"])
def test_tag_prefixes(prefix: str) -> None:
    assert parse_run_filter(f"{prefix}.team = 'x'") == Comparison(TEAM, "=", "x")


@pytest.mark.parametrize("prefix", ["", "attribute.", "attributes.", "attr.", "run."])
def test_attribute_prefixes(prefix: str) -> None:
    assert parse_run_filter(f"{prefix}start_time > 1") == Comparison(START, ">", 1)


@pytest.mark.parametrize(
    "identifier",
    ["run_name", "`run name`", "`Run name`", '"Run Name"', "attributes.`Run name`", "run.run_name"],
)
def test_run_name_aliases(identifier: str) -> None:
    assert parse_run_filter(f"{identifier} = 'x'") == Comparison(NAME, "=", "x")


@pytest.mark.parametrize("identifier", ["created", "Created", "attributes.created"])
def test_created_is_start_time(identifier: str) -> None:
    assert parse_run_filter(f"{identifier} >= 5") == Comparison(START, ">=", 5)


def test_quoted_and_dotted_keys() -> None:
    tag = Field("tag", "mlflow.runName", "string")
    assert parse_run_filter("tags.mlflow.runName = 'x'") == Comparison(tag, "=", "x")
    assert parse_run_filter("tags.\"mlflow.runName\" = 'x'") == Comparison(tag, "=", "x")
    spaced = Field("metric", "my metric", "number")
    assert parse_run_filter("metrics.`my metric` < 2") == Comparison(spaced, "<", 2)
    assert parse_run_filter('metrics."my metric" < 2') == Comparison(spaced, "<", 2)
    odd = Field("param", "a`b-c/d:e", "string")
    assert parse_run_filter("params.`a``b-c/d:e` = 'v'") == Comparison(odd, "=", "v")
    assert parse_run_filter("params.2nd = 'v'") == Comparison(
        Field("param", "2nd", "string"), "=", "v"
    )


def test_string_attributes_and_experiment_id() -> None:
    for key in ("run_id", "status", "user_id", "artifact_uri"):
        field = Field("attribute", key, "string")
        assert parse_run_filter(f"{key} IN ('a', 'b')") == InList(field, ("a", "b"), negated=False)
        assert parse_run_filter(f"{key} LIKE 'a%'") == Comparison(field, "LIKE", "a%")
    eid = Field("attribute", "experiment_id", "id")
    assert parse_run_filter("experiment_id = 3") == Comparison(eid, "=", 3)
    assert parse_run_filter("experiment_id = '3'") == Comparison(eid, "=", 3)
    assert parse_run_filter("experiment_id NOT IN ('1', 2)") == InList(eid, (1, 2), negated=True)


def test_datasets() -> None:
    field = Field("dataset", "digest", "string")
    assert parse_run_filter("datasets.digest = 'abc'") == Comparison(field, "=", "abc")
    assert parse_run_filter("dataset.digest IN ('a')") == InList(field, ("a",), negated=False)


def test_experiment_vocabulary() -> None:
    name = Field("attribute", "name", "string")
    for prefix in ("", "attribute.", "attributes.", "attr."):
        assert parse_experiment_filter(f"{prefix}name = 'x'") == Comparison(name, "=", "x")
    created = Field("attribute", "creation_time", "number")
    assert parse_experiment_filter("creation_time > 5") == Comparison(created, ">", 5)
    eid = Field("attribute", "experiment_id", "id")
    assert parse_experiment_filter("experiment_id IN ('0', '1')") == InList(eid, (0, 1), False)
    tag = Field("tag", "k", "string")
    assert parse_experiment_filter("tags.k ILIKE 'v%'") == Comparison(tag, "ILIKE", "v%")
    assert parse_experiment_filter("tags.k IS NULL") == IsNull(tag, negated=False)


def test_round_trip_of_examples() -> None:
    for text in [
        "metrics.acc > 0.5 AND (params.lr = 'a' OR NOT tags.`x y` IS NULL)",
        "NOT (run_name ILIKE '%x%' AND experiment_id IN (1, 2))",
        "tags.q = 'it''s' OR created <= -1.5e+20",
    ]:
        node = parse_run_filter(text)
        assert node is not None
        assert parse_run_filter(to_filter_text(node)) == node


# -- errors: message quotes the filter, gives the position, and says what was expected ------

ERRORS = [
    # (filter, position, words the message must contain)
    ("metrics.acc >> 1", 13, ["unexpected '>'", "expected a number"]),
    ("metrics.acc > '1'", 14, ["quoted value '1'", "number without quotes"]),
    ("metrics.acc > abc", 14, ["unexpected 'abc'", "a number"]),
    ("metrics.acc LIKE 1", 12, ["comparator LIKE is not allowed for metric 'acc'"]),
    ("metrics.acc IN (1)", 12, ["comparator IN is not allowed"]),
    ("metrics.acc IS NULL", 12, ["comparator IS NULL is not allowed"]),
    ("params.lr = 1", 12, ["unquoted value 1", "quoted string"]),
    ("params.lr = lr", 12, ["unquoted value lr"]),
    ("params.lr = `x`", 12, ["unexpected `x`", "quoted string"]),
    ("params.lr > 'a'", 10, ["comparator > is not allowed for param 'lr'", "one of =, !="]),
    ("params.lr == 'a'", 10, ["unsupported comparator '=='", "'='"]),
    ("params.lr <> 'a'", 10, ["unsupported comparator '<>'", "'!='"]),
    ("params.lr NOT LIKE 'a'", 14, ["unexpected 'LIKE'", "IN after NOT"]),
    ("params.lr IS 'a'", 13, ["unexpected 'a'", "NULL or NOT NULL"]),
    ("params.lr IS NOT 'a'", 17, ["unexpected 'a'", "NULL"]),
    ("params.lr IN 'a'", 13, ["unexpected 'a'", "'('"]),
    ("params.lr IN ()", 14, ["unexpected ')'", "quoted string"]),
    ("params.lr IN ('a',)", 18, ["unexpected ')'"]),
    ("params.lr IN ('a' 'b')", 18, ["unexpected 'b'", "',' or ')'"]),
    ("params.lr IN ('a'", 17, ["unexpected end of input", "',' or ')'"]),
    ("params.lr = 'a", 12, ["unterminated quoted text", "closing '"]),
    ("tags.`a b = 'x'", 5, ["unterminated quoted text starting with `"]),
    ("params.lr", 9, ["unexpected end of input", "a comparator"]),
    ("params.lr = 'a' AND", 19, ["unexpected end of input", "an identifier"]),
    ("params.lr = 'a' params.b = 'c'", 16, ["unexpected 'params.b'", "AND, OR"]),
    ("params.lr = 'a' AND OR params.b = 'c'", 20, ["unexpected 'OR'", "an identifier"]),
    ("(params.lr = 'a'", 16, ["unexpected end of input", "')' to close the '(' at position 0"]),
    ("params.lr = 'a')", 15, ["unmatched ')'"]),
    ("()", 1, ["unexpected ')'"]),
    ("params.lr = 'a'; DROP TABLE runs", 15, ["unexpected character ';'"]),
    ("params.a-b = 'x'", 8, ["unexpected character '-'", "quoted with backticks"]),
    ("params.lr = 'a' & params.b = 'c'", 16, ["unexpected character '&'"]),
    ("foo.bar = 1", 0, ["invalid entity type 'foo'", "metrics"]),
    ("unknown = 1", 0, ["invalid attribute key 'unknown'", "run_name"]),
    ("attributes.bogus = 'x'", 11, ["invalid attribute key 'bogus'"]),
    ("lifecycle_stage = 'active'", 0, ["lifecycle_stage", "run_view_type"]),
    ("datasets.size = 'x'", 9, ["invalid dataset key 'size'", "context, digest, name"]),
    ("metrics. `x` > 1", 8, ["missing key after 'metrics.'"]),
    ("metrics.`` > 1", 8, ["empty key"]),
    ("tags.mlflow.`x` = 'a'", 11, ["a key cannot end with '.'"]),
    ("'acc' > 1", 0, ["unexpected 'acc'", "an identifier"]),
    ("AND = 1", 0, ["unexpected 'AND'", "an identifier"]),
    ("experiment_id = 'x1'", 16, ["invalid experiment id 'x1'", "an integer id"]),
    ("experiment_id = 1.5", 16, ["invalid experiment id 1.5"]),
    (
        "experiment_id LIKE '1'",
        14,
        ["comparator LIKE is not allowed for attribute 'experiment_id'"],
    ),
    ("start_time LIKE '1'", 11, ["comparator LIKE is not allowed"]),
    ("run_id IS NULL", 7, ["comparator IS NULL is not allowed for attribute 'run_id'"]),
]


@pytest.mark.parametrize(("text", "position", "words"), ERRORS)
def test_error_points_at_the_problem(text: str, position: int, words: list[str]) -> None:
    message = error_of(text).message
    first_line, echoed, caret = message.split("\n")
    assert first_line.startswith(f'Invalid filter "{text}": ')
    assert f"at position {position}" in first_line
    for word in words:
        assert word in first_line
    assert echoed == "    " + text
    assert caret == "    " + " " * position + "^"


def test_error_message_example_from_the_issue() -> None:
    message = error_of("metrics.acc >> 1").message
    assert message.startswith(
        "Invalid filter \"metrics.acc >> 1\": unexpected '>' at position 13; expected a number"
    )


def test_caret_lines_up_with_newlines_and_tabs() -> None:
    message = error_of("params.lr = 'a'\n\tAND ?").message
    header, echoed, caret = message.split("\n")
    assert header.startswith("Invalid filter \"params.lr = 'a'  AND ?\": ")
    assert echoed == "    params.lr = 'a'  AND ?"
    assert caret.index("^") == echoed.index("?")


@pytest.mark.parametrize(
    ("text", "position", "word"),
    [
        ("attributes.start_time > 1", 11, "invalid attribute key 'start_time'"),
        ("metrics.acc > 1", 0, "invalid entity type 'metrics'"),
        ("run.name = 'x'", 0, "invalid entity type 'run'"),
        ("lifecycle_stage = 'x'", 0, "view_type"),
        ("name > 'x'", 5, "comparator > is not allowed for attribute 'name'"),
        ("creation_time = 'x'", 16, "quoted value 'x'"),
    ],
)
def test_experiment_filter_errors(text: str, position: int, word: str) -> None:
    message = error_of(text, experiments=True).message
    assert f"at position {position}" in message and word in message


def test_non_string_filter_is_rejected() -> None:
    with pytest.raises(InvalidParameterError, match="expected a string"):
        parse_run_filter(5)  # type: ignore[arg-type]


# -- order_by ------------------------------------------------------------------------------


def test_order_by_items() -> None:
    keys = parse_order_by(
        [
            "metrics.acc DESC",
            "params.`a b` asc",
            "created",
            "tags.mlflow.runName Desc",
            "`Run name`",
        ]
    )
    assert keys == [
        OrderKey("metric", "acc", False, "number"),
        OrderKey("param", "a b", True, "string"),
        OrderKey("attribute", "start_time", True, "number"),
        OrderKey("tag", "mlflow.runName", False, "string"),
        OrderKey("attribute", "run_name", True, "string"),
    ]
    assert parse_order_by(None) == []
    assert parse_order_by([]) == []


def test_order_by_experiments() -> None:
    assert parse_order_by(["name DESC", "attribute.creation_time"], for_runs=False) == [
        OrderKey("attribute", "name", False, "string"),
        OrderKey("attribute", "creation_time", True, "number"),
    ]


@pytest.mark.parametrize(
    "items",
    [
        ["metrics.acc", "metrics.acc DESC"],
        ["metrics.acc", "metric.acc"],
        ["start_time", "created DESC"],
        ["run_name", "`Run name`"],
        ["params.a", "parameters.a"],
    ],
)
def test_order_by_duplicates_are_invalid_parameter(items: list[str]) -> None:
    with pytest.raises(InvalidParameterError, match="same field") as raised:
        parse_order_by(items)
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize(
    ("item", "position", "word", "for_runs"),
    [
        ("metrics.acc DSC", 12, "unexpected 'DSC'", True),
        ("metrics.acc DESC ASC", 17, "unexpected 'ASC'", True),
        ("", 0, "unexpected end of input", True),
        ("datasets.name", 0, "cannot order by datasets.name", True),
        ("tags.x", 0, "cannot order by tags.x", False),
        ("bogus", 0, "invalid attribute key 'bogus'", True),
        ("metrics.acc > 1", 12, "unexpected '>'", True),
    ],
)
def test_order_by_errors(item: str, position: int, word: str, for_runs: bool) -> None:
    with pytest.raises(InvalidParameterError) as raised:
        parse_order_by([item], for_runs=for_runs)
    message = raised.value.message
    assert message.startswith(f'Invalid order_by clause "{item}"')
    assert f"at position {position}" in message and word in message


def test_order_by_must_be_a_list_of_strings() -> None:
    with pytest.raises(InvalidParameterError, match="list of strings"):
        parse_order_by("metrics.acc")
    with pytest.raises(InvalidParameterError, match="expected a string"):
        parse_order_by([5])  # type: ignore[list-item]
