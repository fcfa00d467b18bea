"""Authentication and per-experiment permissions for ``runstack server``.

Users, API tokens and experiment permissions live in the store's own database (migration
0007); ``AuthStore`` reads and changes them, ``passwords`` and ``tokens`` hash what is stored,
``permissions`` is the permission model, ``authenticator`` turns an ``Authorization`` header
into a user (with a short cache and a failed-login limiter), and ``policy`` says which
permission each endpoint needs on which experiment. docs/security.md describes the model.
"""

from __future__ import annotations

from runstack.auth.permissions import Permission

# ``runstack.auth.store`` (SQLAlchemy) is imported where it is used, so that importing the
# permission model stays cheap.
__all__ = ["Permission"]
