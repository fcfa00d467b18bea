"""What the store returns to the web UI's data endpoints (``server/handlers_ui.py``).

The UI asks for less than the MLflow API returns (only the chosen columns of a run table)
and for things MLflow does not keep (run counts per experiment, a metric's min and max, a
long history reduced to what a chart can draw), so these are their own small types.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from runstack.entities import Metric, RunInfo, ViewType

KeyKind = Literal["metrics", "params", "tags"]
KEY_KINDS: tuple[KeyKind, ...] = ("metrics", "params", "tags")


@dataclass(frozen=True)
class ExperimentActivity:
    """The runs of one experiment by status (its active runs; every run of a deleted
    experiment), and the latest time one of them started, ended or sent a heartbeat
    (None: no runs)."""

    run_counts: dict[str, int]
    last_activity: int | None


@dataclass(frozen=True)
class Columns:
    """The keys a run table shows; nothing else of a run is read."""

    metrics: Sequence[str] = ()
    params: Sequence[str] = ()
    tags: Sequence[str] = ()


@dataclass(frozen=True)
class RunTableQuery:
    """One page of a run table. ``parent_run_id``: None for every run, "" for top-level
    runs only, a run id for that run's children."""

    experiment_ids: Sequence[str]
    filter_string: str | None = None
    order_by: Sequence[str] | None = None
    max_results: int = 100
    page_token: str | None = None
    view_type: ViewType = ViewType.ACTIVE_ONLY
    parent_run_id: str | None = None
    columns: Columns = field(default_factory=Columns)


@dataclass(frozen=True)
class RunRow:
    """One run of a table page: its info, the chosen columns, and what every row shows."""

    info: RunInfo
    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]
    source: str | None
    git_commit: str | None
    parent_run_id: str | None
    killed_reason: str | None
    child_count: int


@dataclass(frozen=True)
class RunTablePage:
    rows: list[RunRow]
    next_page_token: str | None


@dataclass(frozen=True)
class MetricSummary:
    """One key of a run: its latest point, and min, max (NaN ignored; None when every
    value is NaN) and count over the whole history."""

    latest: Metric
    min: float | None
    max: float | None
    count: int


@dataclass(frozen=True)
class MetricSeries:
    """One run's points of a key in a step range, in step order, reduced when there were
    more than the caller's ``max_points`` (``total_points`` counts them all)."""

    run_id: str
    total_points: int
    reduced: bool
    steps: Sequence[int]
    timestamps: Sequence[int]
    values: Sequence[float]
