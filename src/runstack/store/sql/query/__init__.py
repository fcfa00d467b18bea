"""The SQL store's search queries: a parsed filter and ordering -> SQL, with keyset paging.

``runstack.filters`` parses the text; this package compiles the tree to SQLAlchemy Core (bound
parameters only), picks a statement shape (``plans``, ``plan_choice``) and cuts pages.
``runstack.store.sql.search`` runs a query in the store's read transaction; nothing here opens
connections or changes data.

- ``run_search`` / ``experiment_search``: ``build_run_search`` / ``build_experiment_search``
- ``conditions``: filter tree -> SQL condition; ``ordering``: ORDER BY and keyset conditions
- ``plans`` (the statement shapes) and ``plan_choice`` (which one, from index probes)
- ``constructs``: SQL whose text differs by dialect; ``executor``: what a query runs on
"""

from runstack.store.sql.query.experiment_search import (
    ExperimentPage,
    ExperimentSearchQuery,
    build_experiment_search,
)
from runstack.store.sql.query.run_search import RunPage, RunSearchQuery, build_run_search

__all__ = [
    "ExperimentPage",
    "ExperimentSearchQuery",
    "RunPage",
    "RunSearchQuery",
    "build_experiment_search",
    "build_run_search",
]
