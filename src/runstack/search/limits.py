"""The ``max_results`` range shared by run and experiment search (reference §13.1, §18)."""

from __future__ import annotations

from runstack.errors import InvalidParameterError

MAX_RESULTS_LIMIT = 50_000


def check_max_results(max_results: object) -> int:
    """Return ``max_results`` if it is an integer in 1..50000, else raise as MLflow does."""
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise InvalidParameterError(
            f"Invalid value {max_results} for parameter 'max_results' supplied. "
            f"It must be a positive integer"
        )
    if max_results > MAX_RESULTS_LIMIT:
        raise InvalidParameterError(
            f"Invalid value {max_results} for parameter 'max_results' supplied. "
            f"It must be at most {MAX_RESULTS_LIMIT}"
        )
    return max_results
