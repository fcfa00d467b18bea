"""Which identifiers and comparators run search and experiment search accept.

Kept apart from the parser so the rules can be read in one place. runstack's extensions over
MLflow are marked; everything else is MLflow's vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass

from runstack.filters.nodes import Entity, ValueType

NUMBER_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
# IN / NOT IN on every string field is a runstack extension (MLflow: run_id only).
STRING_OPS = frozenset({"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"})
KEYED_STRING_OPS = STRING_OPS | {"IS NULL", "IS NOT NULL"}
ID_OPS = frozenset({"=", "!=", "IN", "NOT IN"})


@dataclass(frozen=True)
class Vocabulary:
    """The identifiers one kind of search understands."""

    name: str  # "run" or "experiment", for messages
    prefixes: dict[str, Entity]  # lower-case prefix -> entity
    attributes: dict[str, ValueType]  # canonical attribute key -> type
    aliases: dict[str, str]  # alternative spelling -> canonical attribute key
    rejected: dict[str, str]  # attribute key -> why it cannot be used
    dataset_keys: frozenset[str]
    orderable: frozenset[Entity]  # entities allowed in order_by

    def allowed_ops(self, entity: Entity, value_type: ValueType) -> frozenset[str]:
        if entity in ("param", "tag"):
            return KEYED_STRING_OPS
        if entity == "dataset":
            return STRING_OPS
        if value_type == "number":
            return NUMBER_OPS
        return ID_OPS if value_type == "id" else STRING_OPS

    def valid_prefixes(self) -> str:
        return ", ".join(sorted(self.prefixes))

    def valid_attributes(self) -> str:
        return ", ".join(sorted(self.attributes))


RUN_VOCABULARY = Vocabulary(
    name="run",
    prefixes={
        "metric": "metric",
        "metrics": "metric",
        "parameter": "param",
        "parameters": "param",
        "param": "param",
        "params": "param",
        "tag": "tag",
        "tags": "tag",
        "attribute": "attribute",
        "attributes": "attribute",
        "attr": "attribute",
        "run": "attribute",
        "dataset": "dataset",
        "datasets": "dataset",
    },
    attributes={
        "run_id": "string",
        "run_name": "string",
        "status": "string",
        "user_id": "string",
        "artifact_uri": "string",
        "start_time": "number",
        "end_time": "number",
        "experiment_id": "id",  # runstack extension: MLflow rejects it
        # runstack extension: end_time - start_time in ms; none while the run has not ended.
        "duration": "number",
    },
    aliases={
        "created": "start_time",
        "Created": "start_time",
        "run name": "run_name",
        "Run name": "run_name",
        "Run Name": "run_name",
    },
    rejected={
        "lifecycle_stage": "use run_view_type to choose active or deleted runs",
    },
    dataset_keys=frozenset({"name", "digest", "context"}),
    orderable=frozenset({"metric", "param", "tag", "attribute"}),
)

EXPERIMENT_VOCABULARY = Vocabulary(
    name="experiment",
    prefixes={
        # "attributes" and "attr" are runstack extensions: MLflow accepts only "attribute".
        "attribute": "attribute",
        "attributes": "attribute",
        "attr": "attribute",
        "tag": "tag",
        "tags": "tag",
    },
    attributes={
        "experiment_id": "id",
        "name": "string",
        "creation_time": "number",
        "last_update_time": "number",
    },
    aliases={},
    rejected={
        "lifecycle_stage": "use view_type to choose active or deleted experiments",
    },
    dataset_keys=frozenset(),
    orderable=frozenset({"attribute"}),
)
