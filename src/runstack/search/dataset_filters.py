"""``datasets.name``, ``datasets.digest`` and ``datasets.context`` clauses as SQL conditions.

As in MLflow, a clause asks whether the run has *some* dataset input that satisfies it:
``datasets.name != 'x'`` matches a run with any input not named ``x`` (and no run without
inputs), and two clauses may be satisfied by two different inputs. The context is the input
tag ``mlflow.data.context``; an input without one satisfies no context clause. Each clause is
a correlated ``EXISTS`` over the run's inputs (found by run_id through the (run_id,
dataset_id) unique index), so it composes with AND, OR and NOT like every other lookup.
"""

from __future__ import annotations

from sqlalchemy import exists
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from runstack.search.nodes import Comparison, InList
from runstack.search.predicates import string_condition
from runstack.store.sql.schema import datasets, input_tags, run_inputs
from runstack.tags import DATA_CONTEXT


def dataset_condition(clause: Comparison | InList, source: FromClause) -> ColumnElement[bool]:
    """The run (``source.c.run_id``) has an input whose dataset field satisfies ``clause``."""
    uses = run_inputs.alias("dataset_use")
    key = clause.field.key
    if key == "context":
        tags = input_tags.alias("dataset_context")
        found = exists().where(
            uses.c.run_id == source.c.run_id,
            tags.c.input_id == uses.c.input_id,
            tags.c.key == DATA_CONTEXT,
            string_condition(tags.c.value, clause),
        )
    else:
        used = datasets.alias("dataset_used")
        found = exists().where(
            uses.c.run_id == source.c.run_id,
            used.c.dataset_id == uses.c.dataset_id,
            string_condition(used.c[key], clause),
        )
    return found.correlate(source)
