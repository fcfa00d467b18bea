"""Property tests: what is logged reads back exactly, on SQLite and PostgreSQL (SPEC §6).

Metric values include ±inf, NaN, -0.0, subnormals and huge numbers; steps span the whole
int64 range; keys are Unicode within MLflow's character class. Each test function uses one
store and one run; every example logs under keys of its own.
"""

from __future__ import annotations

import itertools
import math
import posixpath
import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import runstack
from readback import fresh_client
from runstack.entities import Metric, Param, RunTag
from runstack.errors import InvalidParameterError
from runstack.store.sql import store as sql_store
from runstack.validation import validate_key

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
TIMESTAMPS = st.integers(min_value=0, max_value=2**63 - 1)
VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True),
    st.sampled_from(
        [0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, -5e-324, 1.7976931348623157e308]
    ),
    st.integers(min_value=-(2**53), max_value=2**53),
)
_KEY_CHARS = re.compile(r"[/\w.\- :]*")
_SEGMENT = st.text(
    alphabet=st.characters(categories=("L", "N"), include_characters="_-. :"),
    min_size=1,
    max_size=20,
)


def _is_valid_key(key: str) -> bool:
    """MLflow's key rule, written independently of runstack.validation."""
    return (
        0 < len(key) <= 250
        and _KEY_CHARS.fullmatch(key) is not None
        and posixpath.normpath(key) == key
        and key != "."
        and not key.startswith(("..", "/"))
    )


KEYS = st.lists(_SEGMENT, min_size=1, max_size=3).map("/".join).filter(_is_valid_key)
TEXT_VALUES = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=300
)
SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def same_float(a: float, b: float) -> bool:
    """Exactly the same float: NaN equals NaN, and -0.0 differs from 0.0."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def test_same_float_is_strict() -> None:
    assert same_float(math.nan, math.nan)
    assert not same_float(0.0, -0.0)
    assert not same_float(math.inf, 1.7976931348623157e308)
    assert not same_float(math.nan, 0.0)


@pytest.fixture
def unique() -> itertools.count[int]:
    return itertools.count()


@pytest.mark.slow
@SETTINGS
@given(key=KEYS, value=VALUES, step=INT64, timestamp=TIMESTAMPS)
def test_single_metric_round_trip(
    tracking: str,
    unique: itertools.count[int],
    key: str,
    value: float,
    step: int,
    timestamp: int,
) -> None:
    run = runstack.active_run() or runstack.start_run()
    name = f"{key}_{next(unique)}"
    runstack.log_metric(name, value, step=step, timestamp=timestamp)
    client = fresh_client()
    (metric,) = client.get_metric_history(run.info.run_id, name)
    assert same_float(metric.value, float(value))
    assert (metric.key, metric.step, metric.timestamp) == (name, step, timestamp)
    assert type(metric.step) is int and type(metric.timestamp) is int
    stored = client.get_run(run.info.run_id)
    assert same_float(stored.data.metrics[name], float(value))


@pytest.mark.slow
@SETTINGS
@given(
    key=KEYS,
    points=st.lists(st.tuples(VALUES, INT64, TIMESTAMPS), min_size=1, max_size=12),
    as_batch=st.booleans(),
    end_after=st.integers(min_value=0, max_value=12),
)
def test_metric_series_history_and_latest(
    tracking: str,
    unique: itertools.count[int],
    monkeypatch: pytest.MonkeyPatch,
    key: str,
    points: list[tuple[float, int, int]],
    as_batch: bool,
    end_after: int,
) -> None:
    # Small compaction threshold: history moves between the store's tables mid-series.
    monkeypatch.setattr(sql_store, "FOLD_EVERY_POINTS", 5)
    run = runstack.active_run() or runstack.start_run()
    name = f"{key}_{next(unique)}"
    client = fresh_client()

    def log(part: list[tuple[float, int, int]]) -> None:
        if as_batch and part:
            client.log_batch(run.info.run_id, metrics=[Metric(name, v, t, s) for v, s, t in part])
        elif not as_batch:
            for value, step, timestamp in part:
                runstack.log_metric(name, value, step=step, timestamp=timestamp)

    log(points[:end_after])
    client.set_terminated(run.info.run_id, "FINISHED")  # ending a run compacts its history
    client.update_run(run.info.run_id, status="RUNNING")
    log(points[end_after:])
    history = client.get_metric_history(run.info.run_id, name)
    assert len(history) == len(points)
    for got, (value, step, timestamp) in zip(history, points, strict=True):
        assert same_float(got.value, float(value))
        assert (got.step, got.timestamp) == (step, timestamp)
    # Latest: highest step, then latest timestamp, then the one logged last.
    expected = points[0]
    for point in points[1:]:
        if (point[1], point[2]) >= (expected[1], expected[2]):
            expected = point
    stored = client.get_run(run.info.run_id)
    assert same_float(stored.data.metrics[name], float(expected[0]))
    (latest,) = [m for m in stored.data.latest_metrics if m.key == name]
    assert (latest.step, latest.timestamp) == (expected[1], expected[2])


@pytest.mark.slow
@SETTINGS
@given(key=KEYS, param=TEXT_VALUES, tag=TEXT_VALUES, value=VALUES)
def test_unicode_keys_and_values_round_trip(
    tracking: str,
    unique: itertools.count[int],
    key: str,
    param: str,
    tag: str,
    value: float,
) -> None:
    run = runstack.active_run() or runstack.start_run()
    name = f"{key}_{next(unique)}"
    runstack.log_param(name, param)
    runstack.set_tag(name, tag)
    runstack.log_metrics({name: value})
    stored = fresh_client().get_run(run.info.run_id)
    assert stored.data.params[name] == param
    assert stored.data.tags[name] == tag
    assert same_float(stored.data.metrics[name], float(value))
    assert same_float(fresh_client().get_metric_history(run.info.run_id, name)[0].value, value)


@SETTINGS
@given(
    items=st.dictionaries(KEYS, TEXT_VALUES, min_size=1, max_size=8),
)
def test_client_batch_of_params_and_tags_round_trips(
    tracking: str, unique: itertools.count[int], items: dict[str, str]
) -> None:
    run = runstack.active_run() or runstack.start_run()
    suffix = next(unique)
    named = {f"{k}_{suffix}": v for k, v in items.items()}
    fresh_client().log_batch(
        run.info.run_id,
        params=[Param(k, v) for k, v in named.items()],
        tags=[RunTag(k, v) for k, v in named.items()],
    )
    stored = fresh_client().get_run(run.info.run_id)
    assert {k: stored.data.params[k] for k in named} == named
    assert {k: stored.data.tags[k] for k in named} == named


@settings(max_examples=300, deadline=None)
@given(key=st.text(max_size=260) | KEYS | st.from_regex(r"[/\w.\- :]{0,255}", fullmatch=True))
@example("abc\n")  # `$` also matches before a final newline: the rule must not
def test_key_validation_matches_the_rule(key: str) -> None:
    if _is_valid_key(key):
        assert validate_key(key, "Param") == key
    else:
        with pytest.raises(InvalidParameterError) as caught:
            validate_key(key, "Param")
        assert repr(key)[:20] in str(caught.value)


@SETTINGS
@given(value=TEXT_VALUES, position=st.integers(min_value=0, max_value=300))
def test_nul_in_values_is_refused(tracking: str, value: str, position: int) -> None:
    run = runstack.active_run() or runstack.start_run()
    poisoned = value[:position] + "\x00" + value[position:]
    with pytest.raises(InvalidParameterError):
        runstack.log_param("nul", poisoned)
    with pytest.raises(InvalidParameterError):
        runstack.set_tag("nul", poisoned)
    stored = fresh_client().get_run(run.info.run_id)
    assert "nul" not in stored.data.params and "nul" not in stored.data.tags
