"""The ``mlflow`` alias in the Python child processes of a ``runstack run`` script.

A script may start Python children that import ``mlflow`` themselves: ``multiprocessing`` with
the spawn or forkserver method, or ``subprocess.run([sys.executable, "other.py"])``. Each child
inherits the environment, so a private temporary folder put first on ``PYTHONPATH`` reaches
it; the folder holds a ``sitecustomize`` module, which Python imports at start-up. That module
installs the alias (when the child's Python can import runstack; any other Python is left
alone) and then runs the ``sitecustomize`` the child would have run without it, so a user's
own is not shadowed. Nothing outside this process tree changes, and the folder is removed when
the script ends.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

HOOK_MARK = "runstack-run-hook-"

# The child's sitecustomize. It must not fail: a broken start-up hook would break every child.
_HOOK = '''"""Installed by `runstack run`: import mlflow as runstack in this process too."""

import importlib.machinery as _machinery
import importlib.util as _util
import os as _os
import sys as _sys

_here = _os.path.dirname(_os.path.abspath(__file__))
try:
    from runstack.script_runner import aliases as _aliases
except ImportError:  # a Python without runstack: leave it as it is
    pass
else:
    _aliases.install()

# Run the sitecustomize this one stands in front of, if there is one.
_rest = [p for p in _sys.path if _os.path.abspath(p or ".") != _here]
_spec = _machinery.PathFinder.find_spec("sitecustomize", _rest)
if _spec is not None and _spec.loader is not None:
    _module = _util.module_from_spec(_spec)
    _sys.modules["sitecustomize"] = _module
    _spec.loader.exec_module(_module)
'''


@contextmanager
def inherited_alias() -> Iterator[str]:
    """Put the start-up hook first on ``PYTHONPATH`` while the block runs; yield its folder."""
    folder = tempfile.mkdtemp(prefix=HOOK_MARK)
    with open(os.path.join(folder, "sitecustomize.py"), "w", encoding="utf-8") as hook:
        hook.write(_HOOK)
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = folder if not before else folder + os.pathsep + before
    try:
        yield folder
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before
        shutil.rmtree(folder, ignore_errors=True)
