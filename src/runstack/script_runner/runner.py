"""Run a Python script (or ``-m module``) as ``__main__`` with ``mlflow`` aliased to runstack.

The script sees what ``python script.py args`` would give it: ``sys.argv``, ``__main__``,
its folder first on ``sys.path``. An uncaught exception goes through ``sys.excepthook`` (so
runstack's exit hooks end open runs as FAILED) with the runner's own frames cut from the
traceback, and the process exits 1; ``sys.exit(n)`` exits ``n``.
"""

from __future__ import annotations

import os
import runpy
import sys
from types import TracebackType

from runstack.script_runner import aliases, children

_HINT = (
    "runstack run: the script reached a part of MLflow that runstack does not provide. "
    f"runstack stands in for: {aliases.PROVIDED}."
)


def _script_frames(traceback: TracebackType | None) -> TracebackType | None:
    """The traceback without the runner's frames (runpy's and this module's in front, the
    alias finder's at the end), as ``python script.py`` would show it."""
    leading = {__file__, runpy.__file__}
    while traceback is not None and (
        traceback.tb_frame.f_code.co_filename in leading
        or traceback.tb_frame.f_code.co_filename.startswith("<frozen runpy")
    ):
        traceback = traceback.tb_next
    link = traceback
    while link is not None and link.tb_next is not None:
        if link.tb_next.tb_frame.f_code.co_filename == aliases.__file__:
            link.tb_next = None
            break
        link = link.tb_next
    return traceback


def run(target: str, args: list[str], module: bool = False) -> int:
    """Run ``target`` (a path, or a module name when ``module``) and return its exit code.

    Python child processes the script starts get the alias too (``children.py``)."""
    with children.inherited_alias():
        return _run(target, args, module)


def _run(target: str, args: list[str], module: bool) -> int:
    aliases.install()
    sys.argv = [target, *args]
    if module:
        sys.path.insert(0, os.getcwd())
    else:
        sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
    try:
        if module:
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(target, run_name="__main__")
    except SystemExit as exiting:
        # Through sys.exit (runstack's exit hooks wrap it, when a run was started), so that
        # a bare `raise SystemExit(3)` in the script also ends its open runs as FAILED.
        sys.exit(exiting.code)
    except BaseException as error:
        # The hook prints the exception's own traceback: trim that one.
        error = error.with_traceback(_script_frames(error.__traceback__))
        sys.excepthook(type(error), error, error.__traceback__)
        if aliases.is_mlflow_error(error) and not str(error).startswith("runstack run:"):
            print(_HINT, file=sys.stderr)
        return 130 if isinstance(error, KeyboardInterrupt) else 1
    return 0
