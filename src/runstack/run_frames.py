"""Runs as a pandas DataFrame with MLflow's columns (what ``search_runs`` returns by default
and what ``load_table``'s ``extra_columns`` name). pandas is optional: imported on use."""

from __future__ import annotations

import datetime as dt
from typing import Any

from runstack.entities import Run
from runstack.errors import InvalidParameterError


def import_pandas() -> Any:
    try:
        import pandas  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        raise InvalidParameterError(
            "search_runs(output_format='pandas') needs pandas, which is not installed. "
            "Install it with `pip install 'runstack[pandas]'`, or pass output_format='list'."
        ) from None
    return pandas


def _utc(ms: int | None) -> Any:
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def runs_to_dataframe(runs: list[Run]) -> Any:
    """MLflow's columns: run info, then metrics.*, params.*, tags.* (missing: NaN / None)."""
    pandas = import_pandas()
    info_columns = ["run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"]
    metric_keys = sorted({k for r in runs for k in r.data.metrics})
    param_keys = sorted({k for r in runs for k in r.data.params})
    tag_keys = sorted({k for r in runs for k in r.data.tags})
    rows = []
    for run in runs:
        info = run.info
        row: dict[str, Any] = {
            "run_id": info.run_id,
            "experiment_id": info.experiment_id,
            "status": info.status,
            "artifact_uri": info.artifact_uri,
            "start_time": _utc(info.start_time),
            "end_time": _utc(info.end_time),
        }
        row.update({f"metrics.{k}": run.data.metrics.get(k, float("nan")) for k in metric_keys})
        row.update({f"params.{k}": run.data.params.get(k) for k in param_keys})
        row.update({f"tags.{k}": run.data.tags.get(k) for k in tag_keys})
        rows.append(row)
    columns = (
        info_columns
        + [f"metrics.{k}" for k in metric_keys]
        + [f"params.{k}" for k in param_keys]
        + [f"tags.{k}" for k in tag_keys]
    )
    return pandas.DataFrame(rows, columns=columns)
