"""Top-level AND clauses on the first order key: they bound the ordered plan's index walk.

The ordered plan (``run_plans``) walks the first order key's (key, value, run_id) index and
joins each entry to its run. A clause ANDed at the top of the filter that tests that same key
(``metrics.m >= 0.25`` while ordering by ``metrics.m``) is a test of the very row being walked:
(run_id, key) is the primary key, so the clause's lookup can only find that row. Testing it on
the walked row instead turns the walk into an index range scan, and it tells which rank
segments (real value, NaN, missing) can hold a match at all:

- every comparison, ``IN``, ``LIKE`` and ``IS NOT NULL`` needs the key to be present, so the
  missing segment is skipped; ``IS NULL`` leaves only the missing segment;
- a NaN metric fails every comparison except ``!=``, so the NaN segment is skipped too.

Clauses under OR or NOT are never moved: only clauses every matching run must pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from runstack.search.nodes import And, Clause, Comparison, InList, IsNull, Node
from runstack.search.run_filter_sql import keyed_condition

# Ranks of a metric order key (see run_query._sort_terms): real value, NaN, missing.
_NAN_RANK = 1


@dataclass(frozen=True)
class KeyFilter:
    """The filter split into clauses on the first order key and everything else."""

    entity: str
    on_key: tuple[Clause, ...]
    rest: Node | None

    def ranks(self, max_rank: int) -> list[int]:
        """The rank segments that can hold a matching run, in order."""
        allowed = set(range(max_rank + 1))
        for clause in self.on_key:
            if isinstance(clause, IsNull) and not clause.negated:
                allowed &= {max_rank}
                continue
            allowed.discard(max_rank)
            nan_fails = isinstance(clause, Comparison) and clause.op != "!="
            if self.entity == "metric" and nan_fails:
                allowed.discard(_NAN_RANK)
        return sorted(allowed)

    def row_conditions(self, row: FromClause) -> list[ColumnElement[bool]]:
        """The clauses as tests of the walked ``row`` (for segments where the key is present)."""
        return [
            keyed_condition(row, clause)
            for clause in self.on_key
            if isinstance(clause, (Comparison, InList))
        ]


def split_filter(node: Node | None, entity: str, key: str) -> KeyFilter:
    """Move the top-level conjuncts of ``node`` that test (entity, key) into ``on_key``."""
    conjuncts = list(node.items) if isinstance(node, And) else [] if node is None else [node]
    on_key: list[Clause] = []
    rest: list[Node] = []
    for item in conjuncts:
        if isinstance(item, (Comparison, InList, IsNull)) and _tests(item, entity, key):
            on_key.append(item)
        else:
            rest.append(item)
    remaining = None if not rest else rest[0] if len(rest) == 1 else And(tuple(rest))
    return KeyFilter(entity, tuple(on_key), remaining)


def _tests(clause: Clause, entity: str, key: str) -> bool:
    return clause.field.entity == entity and clause.field.key == key
