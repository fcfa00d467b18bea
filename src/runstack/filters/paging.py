"""What a page request may carry: the ``max_results`` range and keyset page tokens.

A page token holds the sort-key values of the last row returned, base64-encoded JSON. It only
makes sense with the ordering it was issued for, so it carries that ordering's signature and is
refused under any other. It carries no offset: the next page starts strictly after the last
row, so rows inserted or deleted meanwhile do not shift it.

``max_results`` must be an integer from 1 to 50,000 for both run and experiment search, as in
MLflow (which rejects larger pages with the same message).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from runstack.errors import InvalidParameterError

MAX_RESULTS_LIMIT = 50_000

_VERSION = 1


def check_max_results(max_results: object) -> int:
    """Return ``max_results`` if it is an integer in 1..50000, else raise as MLflow does."""
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise InvalidParameterError(
            f"Invalid value {max_results} for parameter 'max_results' supplied. "
            f"It must be a positive integer"
        )
    if max_results > MAX_RESULTS_LIMIT:
        raise InvalidParameterError(
            f"Invalid value {max_results} for parameter 'max_results' supplied. "
            f"It must be at most {MAX_RESULTS_LIMIT}"
        )
    return max_results


def encode_token(signature: list[Any], after: list[Any]) -> str:
    payload = json.dumps({"v": _VERSION, "o": signature, "a": after}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode("utf-8")).decode("ascii")


def decode_token(token: str | bytes, signature: list[Any]) -> list[Any]:
    """Return the ``after`` values of ``token``; reject tokens for another ordering."""
    raw = token.encode("ascii", "replace") if isinstance(token, str) else bytes(token)
    try:
        decoded = base64.b64decode(raw, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParameterError("Invalid page token, could not base64-decode") from None
    try:
        payload = json.loads(decoded.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidParameterError("Invalid page token, could not JSON-decode") from None
    if (
        not isinstance(payload, dict)
        or payload.get("v") != _VERSION
        or not isinstance(payload.get("a"), list)
        or "o" not in payload
    ):
        raise InvalidParameterError(
            "Invalid page token: it was not issued by this search. "
            "Start again without a page token."
        )
    if payload["o"] != signature:
        raise InvalidParameterError(
            "Invalid page token: it was issued for a different order_by. Repeat the search with "
            "the same order_by as the first page, or start again without a page token."
        )
    after: list[Any] = payload["a"]
    return after
