"""Stores by tracking URI: one open store per URI per process, opened on first use.

Opening is lazy so that ``import runstack`` never imports SQLAlchemy.
"""

from __future__ import annotations

import threading

from runstack.errors import InvalidParameterError
from runstack.store.base import Store

_lock = threading.Lock()
_stores: dict[str, Store] = {}


def open_store(uri: str) -> Store:
    """A new store for this URI (the caller owns it)."""
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme in ("sqlite", "postgresql", "postgres") or scheme.startswith("postgresql+"):
        from runstack.store.sql.store import SqlStore

        return SqlStore.open(uri)
    if scheme in ("http", "https"):
        from runstack.store.rest import RestStore

        return RestStore(uri)
    raise InvalidParameterError(
        f"Tracking URI {uri!r} has an unknown scheme {scheme!r}; use sqlite:///path, "
        "postgresql://user@host/db or http://host:port."
    )


def get_store(uri: str) -> Store:
    """The process's shared store for this URI, opened on first use."""
    store = _stores.get(uri)
    if store is not None:
        return store
    with _lock:
        store = _stores.get(uri)
        if store is None:
            store = open_store(uri)
            _stores[uri] = store
        return store


def close_stores() -> None:
    """Close every cached store (tests, and process exit)."""
    with _lock:
        for store in _stores.values():
            store.close()
        _stores.clear()


__all__ = ["Store", "close_stores", "get_store", "open_store"]
