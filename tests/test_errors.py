"""Every error runstack raises on purpose is in the one tree of ``runstack.errors``, which its
docstring draws, and each answers over HTTP with its own status."""

from __future__ import annotations

import importlib
import pkgutil

import runstack
from runstack import errors


def _all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_all_subclasses(sub)}
    return found


def test_every_runstack_error_lives_in_errors_and_is_in_its_docstring() -> None:
    for module in pkgutil.walk_packages(runstack.__path__, "runstack."):
        if ".migrations" in module.name:
            continue
        try:
            importlib.import_module(module.name)
        except ImportError:  # an optional extra that is not installed
            continue
    classes = _all_subclasses(errors.RunstackError)
    outside = sorted(
        f"{c.__module__}.{c.__name__}" for c in classes if c.__module__ != errors.__name__
    )
    assert outside == [], f"errors defined outside runstack.errors: {outside}"
    undrawn = sorted(c.__name__ for c in classes if c.__name__ not in (errors.__doc__ or ""))
    assert undrawn == [], f"runstack.errors' docstring does not show {undrawn}"


def test_the_server_errors_carry_their_status() -> None:
    assert errors.NotImplementedByRunstack("no").http_status == 501
    too_large = errors.ApiError("too big", "REQUEST_LIMIT_EXCEEDED", 413)
    assert too_large.http_status == 413
    assert too_large.to_dict() == {"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "too big"}
    assert errors.SettingError("X", "y", "a number").http_status == 400
