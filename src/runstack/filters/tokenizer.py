"""Split a filter (or one ``order_by`` item) into tokens that remember where they came from.

Every token keeps its start offset so that the parser can point at the exact spot when it
rejects the text. The tokenizer knows nothing about meaning: keywords such as ``AND`` are plain
``IDENT`` tokens and a double-quoted token is a ``STRING`` whether it ends up as a key or a value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, NoReturn

from runstack.errors import InvalidParameterError

TokenKind = Literal["IDENT", "STRING", "NUMBER", "OP", "LPAREN", "RPAREN", "COMMA", "EOF"]

# A bare identifier: words joined by dots (``tags.mlflow.runName``). A trailing dot is kept so
# that ``metrics.`my metric``` can be recognised as prefix + quoted key.
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*\.?")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Longest first; ``==`` and ``<>`` are recognised only to reject them with a helpful message.
_OPERATORS = ("!=", "<=", ">=", "==", "<>", "=", "<", ">")
_QUOTES = ("'", '"', "`")


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str  # exactly as written
    value: str  # STRING: the content without quotes, doubled quotes undone; else == text
    start: int
    end: int
    quote: str = ""  # STRING only: the quote character used

    def describe(self) -> str:
        """How the token is named in an error message."""
        if self.kind == "EOF":
            return "end of input"
        return f"'{self.text}'" if self.kind != "STRING" else self.text


@dataclass(frozen=True)
class Source:
    """The text being parsed and how to name it in messages (``filter`` or ``order_by``)."""

    text: str
    label: str

    def fail(self, position: int, problem: str, expected: str | None = None) -> NoReturn:
        """Raise ``InvalidParameterError`` quoting the text with a caret under ``position``."""
        # Tabs and line breaks would break the message's lines and the caret's alignment;
        # they are shown as spaces (one character each, so positions stay right).
        shown = self.text.translate({9: " ", 10: " ", 11: " ", 12: " ", 13: " "})
        message = f'Invalid {self.label} "{shown}": {problem} at position {position}'
        if expected:
            message += f"; expected {expected}"
        message += f".\n    {shown}\n    {' ' * position}^"
        raise InvalidParameterError(message)


def tokenize(source: Source) -> list[Token]:
    """Return the tokens of ``source.text``, ending with one ``EOF`` token."""
    text = source.text
    tokens: list[Token] = []
    pos = 0
    length = len(text)
    while pos < length:
        char = text[pos]
        if char.isspace():
            pos += 1
            continue
        if char in "(),":
            kind: TokenKind = "LPAREN" if char == "(" else "RPAREN" if char == ")" else "COMMA"
            tokens.append(Token(kind, char, char, pos, pos + 1))
            pos += 1
            continue
        if char in _QUOTES:
            token = _read_quoted(source, pos)
            tokens.append(token)
            pos = token.end
            continue
        number = _NUMBER.match(text, pos)
        if number and (char in "0123456789+-."):
            tokens.append(_token("NUMBER", number.group(), pos))
            pos = number.end()
            continue
        operator = next((op for op in _OPERATORS if text.startswith(op, pos)), None)
        if operator:
            tokens.append(_token("OP", operator, pos))
            pos += len(operator)
            continue
        ident = _IDENT.match(text, pos)
        if ident:
            tokens.append(_token("IDENT", ident.group(), pos))
            pos = ident.end()
            continue
        hint = None
        if char in "-/:" and tokens and tokens[-1].kind == "IDENT" and tokens[-1].end == pos:
            hint = "a comparator; keys with special characters must be quoted with backticks"
        source.fail(pos, f"unexpected character '{char}'", hint)
    tokens.append(Token("EOF", "", "", length, length))
    return tokens


def _token(kind: TokenKind, text: str, start: int) -> Token:
    return Token(kind, text, text, start, start + len(text))


def _read_quoted(source: Source, start: int) -> Token:
    """Read a quoted token; a doubled quote character inside stands for one quote."""
    text = source.text
    quote = text[start]
    pos = start + 1
    parts: list[str] = []
    while True:
        end = text.find(quote, pos)
        if end < 0:
            problem = f"unterminated quoted text starting with {quote}"
            source.fail(start, problem, f"a closing {quote}")
        parts.append(text[pos:end])
        if text.startswith(quote, end + 1):
            parts.append(quote)
            pos = end + 2
            continue
        return Token("STRING", text[start : end + 1], "".join(parts), start, end + 1, quote)
