"""Decoding a request's JSON body, refusing what no endpoint can use before any handler runs.

``json.loads`` alone lets through bodies that fail later, deep in a handler or a database
driver, as a 500 or a 503: nesting thousands of levels deep (``RecursionError``), strings
with lone surrogates (not encodable as UTF-8: no driver can send them, no response can echo
them) or NUL characters (PostgreSQL cannot store them; SQLite would). Here every such body
is a 400 naming where in the body the bad value is.
"""

from __future__ import annotations

import json
from typing import Any

from runstack.errors import InvalidParameterError
from runstack.validation import preview

# The deepest real request (log-inputs: body > datasets > [i] > dataset > field) is 4 deep.
MAX_JSON_DEPTH = 20


def decode_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object (``{}`` when empty), checked by ``check_json_value``."""
    if not body:
        return {}
    try:
        data = json.loads(body)
    except RecursionError:
        raise _too_deep("the request body") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidParameterError(
            f"The request body is not valid JSON ({error}); send a JSON object.", "BAD_REQUEST"
        ) from None
    if not isinstance(data, dict):
        raise InvalidParameterError(
            f"The request body must be a JSON object, not {type(data).__name__}.", "BAD_REQUEST"
        )
    check_json_value(data, "", fields=False)
    return data


def check_json_value(value: object, where: str, fields: bool = True) -> None:
    """Refuse nesting deeper than ``MAX_JSON_DEPTH`` and lone surrogates anywhere in ``value``
    (keys included), and NUL characters too when ``value`` holds request fields (the body's
    fields are checked one by one, since unknown fields are ignored, as proto3 does).
    Iterative: a deep value cannot exhaust the stack here."""
    stack: list[tuple[object, str, int]] = [(value, where, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            check_text(item, path or "the request body", nul=fields)
        elif isinstance(item, (dict, list)):
            if depth >= MAX_JSON_DEPTH:
                raise _too_deep(path or "the request body")
            if isinstance(item, dict):
                for key, inner in item.items():
                    inner_path = f"{path}.{key}" if path else str(key)
                    check_text(key, f"a key in {path or 'the request body'}", nul=fields)
                    stack.append((inner, inner_path, depth + 1))
            else:
                stack.extend((inner, f"{path}[{i}]", depth + 1) for i, inner in enumerate(item))


def check_text(text: str, where: str, nul: bool = True) -> None:
    """No lone surrogate (and no NUL, with ``nul``) in ``text``, the value of ``where``."""
    if text.isascii():
        if nul and "\x00" in text:
            raise InvalidParameterError(
                f"Invalid value {preview(text)} for parameter '{where}': it contains a NUL "
                "character (\\u0000), which cannot be stored; remove it."
            )
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidParameterError(
            f"Invalid value {preview(text)} for parameter '{where}': it contains the lone "
            f"surrogate {text[error.start]!r} at position {error.start}, which is not valid "
            "Unicode text; send valid UTF-8."
        ) from None
    if nul and "\x00" in text:
        raise InvalidParameterError(
            f"Invalid value {preview(text)} for parameter '{where}': it contains a NUL "
            "character (\\u0000), which cannot be stored; remove it."
        )


def _too_deep(where: str) -> InvalidParameterError:
    return InvalidParameterError(
        f"Invalid value for '{where}': JSON nested more than {MAX_JSON_DEPTH} levels deep; "
        f"no request needs more than a few levels (the limit is {MAX_JSON_DEPTH})."
    )
