"""``import mlflow`` as runstack, inside one process (what ``runstack run`` installs).

The run-management modules of MLflow are registered in ``sys.modules`` as thin alias modules
over runstack's: attribute reads go to runstack, and a name runstack does not have fails
with an error that says so. Any other ``mlflow.*`` module (``mlflow.sklearn``, ...) fails to
import with a message naming it, instead of silently loading a real MLflow installed beside.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Sequence
from typing import Any

# mlflow module -> the runstack module that stands for it.
ALIASES: dict[str, str] = {
    "mlflow": "runstack",
    "mlflow.artifacts": "runstack.artifacts",
    "mlflow.client": "runstack.client",
    "mlflow.entities": "runstack.entities",
    "mlflow.exceptions": "runstack.exceptions",
    "mlflow.tracking": "runstack.tracking",
    "mlflow.tracking.client": "runstack.client",
    "mlflow.tracking.fluent": "runstack",
}
PROVIDED = ", ".join(sorted(ALIASES))


def _missing_part(name: str) -> str:
    return (
        f"runstack run: {name!r} is a part of MLflow that runstack does not provide. runstack "
        f"stands in for MLflow's run-management API only ({PROVIDED}); run this script with "
        "MLflow itself to use that part."
    )


class AliasModule(types.ModuleType):
    """A module named ``mlflow...`` whose attributes are those of a runstack module."""

    def __init__(self, name: str, target: types.ModuleType) -> None:
        super().__init__(name, target.__doc__)
        self.__dict__["_runstack_target"] = target
        # A package with no search path: ``import mlflow.x`` reaches the finder below.
        self.__path__: list[str] = []
        self.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__") and attribute.endswith("__"):
            raise AttributeError(attribute)
        target = self.__dict__["_runstack_target"]
        try:
            return getattr(target, attribute)
        except AttributeError:
            raise AttributeError(_missing_part(f"{self.__name__}.{attribute}")) from None

    def __dir__(self) -> list[str]:
        return sorted(set(dir(self.__dict__["_runstack_target"])) | set(self.__dict__))


class _MlflowFinder(importlib.abc.MetaPathFinder):
    """Refuses every ``mlflow.*`` module that has no alias, naming it."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == "mlflow" or fullname.startswith("mlflow."):
            raise ModuleNotFoundError(_missing_part(fullname), name=fullname)
        return None


def install() -> None:
    """Make ``mlflow`` and its run-management modules import as runstack in this process."""
    if any(isinstance(finder, _MlflowFinder) for finder in sys.meta_path):
        return
    for name in [n for n in sys.modules if n == "mlflow" or n.startswith("mlflow.")]:
        del sys.modules[name]  # a real MLflow imported earlier must not leak through
    modules = {name: AliasModule(name, importlib.import_module(t)) for name, t in ALIASES.items()}
    for name, module in modules.items():
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(modules[parent], child, module)
    sys.meta_path.insert(0, _MlflowFinder())


def is_mlflow_error(error: BaseException) -> bool:
    """Whether an uncaught error is about a part of MLflow runstack does not provide."""
    if not isinstance(error, (ImportError, AttributeError)):
        return False
    text = str(error)
    return "mlflow" in text or getattr(error, "name", None) in ALIASES
