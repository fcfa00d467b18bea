"""``search_experiments`` and ``search_runs`` for the fluent API: pick the experiments (the
session's active one by default), page through, shape the output."""

from __future__ import annotations

import logging
from typing import Any

from runstack.client import TrackingClient
from runstack.entities import Experiment, Run, ViewType
from runstack.errors import InvalidParameterError
from runstack.run_frames import import_pandas, runs_to_dataframe
from runstack.session import experiment_choice

PAGE_SIZE = 10_000
EXPERIMENT_PAGE_SIZE = 1000
logger = logging.getLogger(__name__)


def _experiment_ids(
    client: TrackingClient,
    experiment_ids: list[str] | None,
    search_all_experiments: bool,
    experiment_names: list[str] | None,
) -> list[str]:
    if experiment_ids and experiment_names:
        raise InvalidParameterError(
            "search_runs() takes experiment_ids or experiment_names, not both."
        )
    if experiment_ids:
        return [
            str(e)
            for e in ([experiment_ids] if isinstance(experiment_ids, str) else experiment_ids)
        ]
    if experiment_names:
        ids = []
        for name in experiment_names:
            found = client.get_experiment_by_name(name)
            if found is None:
                logger.warning("runstack: search_runs skips unknown experiment %r", name)
            else:
                ids.append(found.experiment_id)
        return ids
    if search_all_experiments:
        return [e.experiment_id for e in collect_experiments(client, ViewType.ACTIVE_ONLY)]
    return [experiment_choice.resolve_experiment_id(client, None)]


def collect_experiments(
    client: TrackingClient,
    view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
) -> list[Experiment]:
    """All matching experiments (or the first ``max_results``), fetching page by page."""
    found: list[Experiment] = []
    token = None
    while max_results is None or len(found) < max_results:
        remaining = EXPERIMENT_PAGE_SIZE if max_results is None else max_results - len(found)
        page_size = min(EXPERIMENT_PAGE_SIZE, remaining)
        page = client.search_experiments(view_type, page_size, filter_string, order_by, token)
        found.extend(page)
        token = page.token
        if not token:
            break
    return found


def collect_runs(
    client: TrackingClient,
    experiment_ids: list[str] | None,
    filter_string: str,
    run_view_type: int,
    max_results: int,
    order_by: list[str] | None,
    output_format: str,
    search_all_experiments: bool,
    experiment_names: list[str] | None,
) -> Any:
    if output_format not in ("list", "pandas"):
        raise InvalidParameterError(
            f"Invalid output_format {output_format!r}: use 'list' or 'pandas'."
        )
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise InvalidParameterError(
            f"Invalid max_results {max_results!r}: it must be a positive integer."
        )
    if output_format == "pandas":
        import_pandas()  # fail before any query when pandas is missing
    ids = _experiment_ids(client, experiment_ids, search_all_experiments, experiment_names)
    runs: list[Run] = []
    token = None
    while ids and len(runs) < max_results:
        size = min(PAGE_SIZE, max_results - len(runs))
        page = client.search_runs(ids, filter_string, run_view_type, size, order_by, token)
        runs.extend(page)
        token = page.token
        if not token:
            break
    return runs if output_format == "list" else runs_to_dataframe(runs)
