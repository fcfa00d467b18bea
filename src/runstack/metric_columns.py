"""One logging call's metrics sharing a timestamp and a step, kept as columns.

``log_metrics({...100 keys...})`` is the hot path of a training loop. Kept as two lists plus
one timestamp and one step, its values reach the SQL store's packed log row without a
``Metric`` object per value; anything else that reads it (the REST store, the asynchronous
queue) sees an ordinary sequence of ``Metric``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

from runstack.entities import Metric


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
