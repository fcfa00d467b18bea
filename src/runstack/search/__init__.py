"""Run and experiment search: filter parsing, SQL building and keyset paging.

The SQL store calls ``build_run_search`` / ``build_experiment_search`` and executes the result;
nothing here opens connections of its own (``RunSearchQuery.fetch_page`` uses the one it is
given).
"""
