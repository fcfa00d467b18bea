"""Run and experiment search: filter parsing, SQL building and keyset paging.

The SQL store calls ``build_run_search`` / ``build_experiment_search`` and executes the result
on its own connection; nothing here opens connections or changes data.
"""

from runstack.search.experiment_query import (
    ExperimentPage,
    ExperimentSearchQuery,
    build_experiment_search,
)
from runstack.search.filter_parser import (
    OrderKey,
    parse_experiment_filter,
    parse_order_by,
    parse_run_filter,
)
from runstack.search.limits import MAX_RESULTS_LIMIT, check_max_results
from runstack.search.run_query import RunPage, RunSearchQuery, build_run_search

__all__ = [
    "MAX_RESULTS_LIMIT",
    "ExperimentPage",
    "ExperimentSearchQuery",
    "OrderKey",
    "RunPage",
    "RunSearchQuery",
    "build_experiment_search",
    "build_run_search",
    "check_max_results",
    "parse_experiment_filter",
    "parse_order_by",
    "parse_run_filter",
]
