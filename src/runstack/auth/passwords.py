"""Password hashing with the standard library's scrypt (memory-hard), one random salt per
password. The stored form names its parameters, so they can be raised later without
invalidating existing hashes."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

# 16 MiB and about 50 ms per hash: slow for a guesser, cheap for one login a minute (the
# server caches verified credentials, see authenticator.py).
_N, _R, _P = 2**14, 8, 1
_SALT_BYTES = 16
_KEY_BYTES = 32
_SCHEME = "scrypt"
MIN_LENGTH = 8
MAX_LENGTH = 1024


def check_password_rule(password: str) -> None:
    """Raise ValueError naming the rule when ``password`` breaks it."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise ValueError(
            f"A password must have {MIN_LENGTH} to {MAX_LENGTH} characters; this one has "
            f"{len(password)}."
        )


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=256 * n * r + 1024 * 1024,
        dklen=_KEY_BYTES,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """The stored form: ``scrypt$n$r$p$salt$key`` (base64 salt and key)."""
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _derive(password, salt, _N, _R, _P)
    return f"{_SCHEME}${_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time comparison of the keys)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != _SCHEME:
            return False
        expected = base64.b64decode(key)
        actual = _derive(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def dummy_hash() -> str:
    """Verified against when a username is unknown, so that a wrong user costs the same time
    as a wrong password (no timing oracle for which users exist). Made on first use, not at
    import: every ``runstack`` command imports this module."""
    return hash_password(secrets.token_urlsafe(16))
