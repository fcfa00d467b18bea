"""Artifacts: files a run logs (models, plots, tables), kept per run at its ``artifact_uri``.

The public functions below (MLflow's ``mlflow.artifacts``) are loaded on first use, so that
the repositories (``registry``, ``local``, ...) can be imported by the client and the server
without importing the client back.
"""

from __future__ import annotations

from typing import Any

__all__ = ["download_artifacts", "list_artifacts", "load_dict", "load_image", "load_text"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from runstack.artifacts import api

        return getattr(api, name)
    raise AttributeError(f"module 'runstack.artifacts' has no attribute {name!r}")
