"""API tokens: 256 random bits from ``secrets``, shown once; only their SHA-256 digest is
stored. A fast hash is enough for a secret this long (nothing to guess), and it lets the
server find a token by its digest with one indexed read."""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "rst_"


def new_token() -> str:
    """A fresh token; the ``rst_`` prefix makes leaked ones easy to recognise and scan for."""
    return PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """The hex SHA-256 digest stored for ``token``."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
