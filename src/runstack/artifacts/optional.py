"""Optional libraries (numpy, Pillow, matplotlib, plotly, kaleido, pandas, PyYAML): imported
only when an artifact needs them, with an error naming the package to install when they are
missing."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingDependencyError(ImportError):
    """An optional library an artifact function needs is not installed."""


def require(module: str, package: str, purpose: str, hint: str = "") -> ModuleType:
    """``import module``, or raise ``MissingDependencyError`` saying ``pip install package``
    (and ``hint``, another way out, when given)."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingDependencyError(
            f"{purpose} needs the package {package!r}, which is not installed: "
            f"pip install {package}" + (f" ({hint})" if hint else "")
        ) from error
