"""The run session: what a process's ``start_run`` / ``end_run`` calls build up and tear down.

- ``stack``: the active-run stack and last ended run (per thread and asyncio task), and the
  process-wide registry of open runs;
- ``active_run``: ``ActiveRun``, the object ``start_run`` returns;
- ``starting`` / ``ending``: starting or resuming a run, ending one (with the one rule for the
  status an exception means), and the run a logging call without a run goes to;
- ``exit_hooks``: ending open runs at process exit, on an uncaught exception and on SIGTERM;
- ``heartbeat``: the thread that renews open runs' liveness leases;
- ``experiment_choice``: which experiment a new run goes to, and ``set_experiment``;
- ``listing``: ``search_experiments`` / ``search_runs`` paging for the fluent API.

The layer sits between ``runstack.fluent`` (which only delegates to it) and
``TrackingClient``; it never imports ``runstack.fluent``.
"""
