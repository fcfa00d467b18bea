"""Metric values checked for a write (``make_metric``, for the client and the server alike),
and one logging call's metrics sharing a timestamp and a step, kept as columns.

``log_metrics({...100 keys...})`` is the hot path of a training loop. Kept as two lists plus
one timestamp and one step, its values reach the SQL store's packed log row without a
``Metric`` object per value; anything else that reads it (the REST store, the asynchronous
queue) sees an ordinary sequence of ``Metric``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, overload

from runstack.clock import now_ms
from runstack.entities import Metric
from runstack.validation import (
    validate_key,
    validate_metric_value,
    validate_step,
    validate_timestamp,
)


class MetricColumns(Sequence[Metric]):
    """Validated keys and values (same length) logged at ``timestamp`` and ``step``."""

    __slots__ = ("keys", "step", "timestamp", "values")

    def __init__(self, keys: list[str], values: list[float], timestamp: int, step: int) -> None:
        self.keys = keys
        self.values = values
        self.timestamp = timestamp
        self.step = step

    def __len__(self) -> int:
        return len(self.keys)

    @overload
    def __getitem__(self, index: int) -> Metric: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Metric]: ...

    def __getitem__(self, index: int | slice) -> Metric | Sequence[Metric]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return Metric(self.keys[index], self.values[index], self.timestamp, self.step)


def make_metric(key: object, value: object, timestamp: object, step: object) -> Metric:
    """A validated Metric: float value (±inf and NaN kept), integer step, integer timestamp."""
    name = validate_key(key, "Metric")
    return Metric(
        name,
        validate_metric_value(name, value),
        now_ms() if timestamp is None else validate_timestamp(timestamp),
        validate_step(name, step),
    )


def make_metrics(values: Mapping[Any, object], timestamp: object, step: object) -> MetricColumns:
    """One dict of metric values sharing a timestamp and a step, validated in one pass."""
    keys = [validate_key(key, "Metric") for key in values]
    numbers = [validate_metric_value(k, v) for k, v in zip(keys, values.values(), strict=True)]
    stamp = now_ms() if timestamp is None else validate_timestamp(timestamp)
    checked_step = validate_step(keys[0], step) if keys else 0
    return MetricColumns(keys, numbers, stamp, checked_step)
