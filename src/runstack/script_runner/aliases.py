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

# mlflow module -> the runstack module that stands for it. None: a package of MLflow's that
# runstack provides only some submodules of (``mlflow.utils`` for ``mlflow.utils.mlflow_tags``);
# its other names fail as missing parts.
_ENTITY_MODULES = (
    "dataset",
    "dataset_input",
    "experiment",
    "experiment_tag",
    "file_info",
    "input_tag",
    "lifecycle_stage",
    "metric",
    "param",
    "run",
    "run_data",
    "run_info",
    "run_inputs",
    "run_status",
    "run_tag",
    "source_type",
    "view_type",
)
ALIASES: dict[str, str | None] = {
    "mlflow": "runstack",
    "mlflow.artifacts": "runstack.artifacts",
    "mlflow.client": "runstack.client",
    "mlflow.config": "runstack.config",
    "mlflow.data": "runstack.data",
    "mlflow.data.code_dataset_source": "runstack.data.sources",
    "mlflow.data.dataset": "runstack.data.datasets",
    "mlflow.data.dataset_source": "runstack.data.sources",
    "mlflow.data.http_dataset_source": "runstack.data.sources",
    "mlflow.data.numpy_dataset": "runstack.data.datasets",
    "mlflow.data.pandas_dataset": "runstack.data.datasets",
    "mlflow.data.sources": "runstack.data.sources",
    "mlflow.entities": "runstack.entities",
    **{f"mlflow.entities.{name}": "runstack.entities" for name in _ENTITY_MODULES},
    "mlflow.exceptions": "runstack.exceptions",
    "mlflow.store": None,
    "mlflow.store.entities": "runstack.entities",
    "mlflow.store.entities.paged_list": "runstack.entities",
    "mlflow.tracking": "runstack.tracking",
    "mlflow.tracking.client": "runstack.client",
    "mlflow.tracking.fluent": "runstack",
    "mlflow.utils": None,
    "mlflow.utils.mlflow_tags": "runstack.tags",
}
# Dunder names a script may read from a module (``mlflow.__version__``, ``from mlflow import
# *``); every other dunder is the alias module's own.
_PASSED_DUNDERS = frozenset({"__version__", "__all__"})


def _provided() -> str:
    """The provided modules, for messages: each package once (not its submodules), and
    none of the partial packages (``mlflow.utils``) that hold only a provided submodule."""
    shown = []
    for name, target in ALIASES.items():
        parent = name.rpartition(".")[0]
        if target is not None and (parent in ("", "mlflow") or ALIASES.get(parent) is None):
            shown.append(name)
    return ", ".join(sorted(shown))


PROVIDED = _provided()


def _missing_part(name: str) -> str:
    return (
        f"runstack run: {name!r} is a part of MLflow that runstack does not provide. runstack "
        f"stands in for MLflow's run-management API only ({PROVIDED}); run this script with "
        "MLflow itself to use that part."
    )


class AliasModule(types.ModuleType):
    """A module named ``mlflow...`` whose attributes are those of a runstack module."""

    def __init__(self, name: str, target: types.ModuleType | None) -> None:
        super().__init__(name, None if target is None else target.__doc__)
        self.__dict__["_runstack_target"] = target
        # A package with no search path: ``import mlflow.x`` reaches the finder below.
        self.__path__: list[str] = []
        self.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)

    def __getattr__(self, attribute: str) -> Any:
        dunder = attribute.startswith("__") and attribute.endswith("__")
        if dunder and attribute not in _PASSED_DUNDERS:
            raise AttributeError(attribute)
        target = self.__dict__["_runstack_target"]
        if target is None:
            raise AttributeError(_missing_part(f"{self.__name__}.{attribute}"))
        try:
            return getattr(target, attribute)
        except AttributeError:
            raise AttributeError(_missing_part(f"{self.__name__}.{attribute}")) from None

    def __dir__(self) -> list[str]:
        target = self.__dict__["_runstack_target"]
        return sorted(set(dir(target) if target is not None else ()) | set(self.__dict__))


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
    modules = {
        name: AliasModule(name, None if target is None else importlib.import_module(target))
        for name, target in ALIASES.items()
    }
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
