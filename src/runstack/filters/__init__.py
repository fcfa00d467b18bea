"""The search-filter language: text -> syntax tree, and what a page request may carry.

Generic on purpose: nothing here knows a database. ``parse_run_filter("metrics.acc > 0.9")``
returns a tree of ``nodes`` that the SQL store compiles (``runstack.store.sql.query``); other
backends could compile the same tree. Every rejection is an ``InvalidParameterError`` naming the
position in the text and the rule broken.
"""

from runstack.filters.paging import (
    MAX_RESULTS_LIMIT,
    check_max_results,
    decode_token,
    encode_token,
)
from runstack.filters.parser import (
    OrderKey,
    parse_experiment_filter,
    parse_order_by,
    parse_run_filter,
)

__all__ = [
    "MAX_RESULTS_LIMIT",
    "OrderKey",
    "check_max_results",
    "decode_token",
    "encode_token",
    "parse_experiment_filter",
    "parse_order_by",
    "parse_run_filter",
]
