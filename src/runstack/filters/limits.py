"""How much work one search filter may ask for: its length, clauses, listed values and nesting.

The parser consults a ``FilterBudget`` while it reads, so a hostile filter is refused after
reading at most one clause past a limit: never by exhausting Python's stack (thousands of
``NOT`` or parentheses would raise ``RecursionError``) and never by handing the database a
statement that takes minutes to plan. Every refusal is an ``InvalidParameterError`` naming
the limit, so clients do not retry it.
"""

from __future__ import annotations

from runstack.errors import InvalidParameterError
from runstack.validation import require_storable

# Characters in one filter string. Long IN lists of run ids are the realistic big filters:
# 1,000 ids of 32 hex characters take ~36,000 characters.
MAX_FILTER_LENGTH = 50_000
# Comparisons (``a = 1``, ``a IN (...)``, ``a IS NULL``) in one filter. Each clause on a
# metric, param or tag is a subquery, and PostgreSQL's planning time grows steeply with
# AND-ed ones (measured on an empty store: 60 take 0.3 s, 100 take 2-5 s, 200 over 30 s).
MAX_FILTER_CLAUSES = 50
# Values in all IN lists of one filter together.
MAX_FILTER_VALUES = 5_000
# Items in one order_by list: each may join another table.
MAX_ORDER_BY_ITEMS = 20
# Nested parentheses and NOTs. The parser recurses about four frames per level.
MAX_FILTER_DEPTH = 32


def check_order_by_count(count: int) -> None:
    if count > MAX_ORDER_BY_ITEMS:
        raise InvalidParameterError(
            f"Invalid order_by: {count} items; the limit is {MAX_ORDER_BY_ITEMS}. This limit "
            "bounds the work of one search request."
        )


class FilterBudget:
    """Counts what one filter uses while it is parsed and raises at the first excess."""

    def __init__(self, label: str = "filter") -> None:
        self.label = label
        self.clauses = 0
        self.values = 0
        self.depth = 0

    def check_text(self, text: str) -> None:
        """Length first; then no NUL or lone surrogate, which no database can compare."""
        if len(text) > MAX_FILTER_LENGTH:
            raise self._refuse(
                f"is {len(text)} characters long; the limit is {MAX_FILTER_LENGTH} characters"
            )
        require_storable(text, f"The {self.label}")

    def enter(self, position: int) -> None:
        """One more level of nesting (a parenthesis or a NOT) starting at ``position``."""
        self.depth += 1
        if self.depth > MAX_FILTER_DEPTH:
            raise self._refuse(
                f"nests parentheses and NOTs more than {MAX_FILTER_DEPTH} deep (at position "
                f"{position}); the limit is {MAX_FILTER_DEPTH} levels"
            )

    def leave(self) -> None:
        self.depth -= 1

    def clause(self, position: int) -> None:
        self.clauses += 1
        if self.clauses > MAX_FILTER_CLAUSES:
            raise self._refuse(
                f"has more than {MAX_FILTER_CLAUSES} clauses (the next one starts at position "
                f"{position}); the limit is {MAX_FILTER_CLAUSES} clauses. Use IN ('a', 'b', "
                "...) for many values of one field, or split the search"
            )

    def value(self, position: int) -> None:
        self.values += 1
        if self.values > MAX_FILTER_VALUES:
            raise self._refuse(
                f"lists more than {MAX_FILTER_VALUES} values in IN (...) (at position "
                f"{position}); the limit is {MAX_FILTER_VALUES} values. Split the search"
            )

    def _refuse(self, problem: str) -> InvalidParameterError:
        return InvalidParameterError(
            f"Invalid {self.label}: the {self.label} {problem}. This limit bounds the work "
            "of one search request."
        )
