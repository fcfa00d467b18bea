"""Dataset inputs: what callers may log with ``log_input(s)``, checked before any write.

Callers hand over runstack's entities, MLflow's entities (``mlflow.entities.Dataset`` and
``DatasetInput``) or MLflow dataset objects (``mlflow.data``'s, which convert themselves with
``_to_mlflow_entity()``). Everything is read by attribute, so mlflow is never imported. The
limits are MLflow's (its SQL columns); a value over one is refused, never cut.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import SimpleNamespace
from typing import Any

from runstack.entities import Dataset, DatasetInput, InputTag
from runstack.errors import InvalidParameterError
from runstack.tags import DATA_CONTEXT
from runstack.validation import as_str_dict, preview, require_storable

MAX_DATASETS_PER_CALL = 1000
MAX_INPUT_TAG_KEY_LENGTH = 255
MAX_INPUT_TAG_VALUE_LENGTH = 500
# Dataset fields: (name, limit, required). source_type has no check in MLflow's validation
# but its column holds 36 characters; runstack says so instead of failing in the database.
DATASET_FIELDS: tuple[tuple[str, int, bool], ...] = (
    ("name", 500, True),
    ("digest", 36, True),
    ("source_type", 36, True),
    ("source", 65535, True),
    ("schema", 1048575, False),
    ("profile", 16777215, False),
)
_MISSING = object()


def check_dataset_inputs(inputs: object) -> tuple[DatasetInput, ...]:
    """Every input checked and converted; None is no inputs. Raises on the first bad one."""
    if inputs is None:
        return ()
    if isinstance(inputs, (str, bytes, Mapping)) or not isinstance(inputs, Iterable):
        raise InvalidParameterError(
            f"datasets must be a list of dataset inputs, got {type(inputs).__name__}."
        )
    items = list(inputs)
    if len(items) > MAX_DATASETS_PER_CALL:
        raise InvalidParameterError(
            f"{len(items)} dataset inputs were given in one call; the limit is "
            f"{MAX_DATASETS_PER_CALL}. Log them in several calls."
        )
    return tuple(check_dataset_input(item) for item in items)


def check_dataset_input(value: Any) -> DatasetInput:
    """A ``DatasetInput`` (runstack's or MLflow's), or a bare dataset (an input without tags)."""
    if isinstance(value, DatasetInput) or (hasattr(value, "dataset") and hasattr(value, "tags")):
        dataset, tags = value.dataset, value.tags
    else:
        dataset, tags = value, ()
    checked = check_dataset(dataset)
    return DatasetInput(checked, check_input_tags(tags, checked.name))


def input_with_context(
    dataset: Any, context: Any, tags: dict[str, Any] | None
) -> DatasetInput | None:
    """What ``log_input(dataset, context, tags)`` logs: one checked input (the context becomes
    the tag ``mlflow.data.context``), or None when there is no dataset."""
    if dataset is None:
        if context or tags:
            raise InvalidParameterError(
                "A context or tags were given without a dataset; they describe how a dataset "
                "was used, so pass the dataset too."
            )
        return None
    pairs = [SimpleNamespace(key=k, value=v) for k, v in as_str_dict(tags, "tags").items()]
    if context:
        pairs.append(SimpleNamespace(key=DATA_CONTEXT, value=context))
    return check_dataset_input(SimpleNamespace(dataset=dataset, tags=pairs))


def inputs_with_contexts(
    datasets: list[Any] | None,
    contexts: list[str | None] | None,
    tags_list: list[dict[str, str] | None] | None,
) -> list[DatasetInput]:
    """What ``log_inputs`` logs: ``contexts`` and ``tags_list``, when given, pair with
    ``datasets`` by position (None entries mean none)."""
    given = list(datasets or [])
    context_list = [None] * len(given) if contexts is None else list(contexts)
    tag_dicts = [None] * len(given) if tags_list is None else list(tags_list)
    if not len(given) == len(context_list) == len(tag_dicts):
        raise InvalidParameterError(
            f"log_inputs got {len(given)} datasets, {len(context_list)} contexts and "
            f"{len(tag_dicts)} tags_list entries; give one of each per dataset (None for none)."
        )
    return [
        item for item in map(input_with_context, given, context_list, tag_dicts) if item is not None
    ]


def check_dataset(value: object) -> Dataset:
    """A runstack ``Dataset`` with every field checked against MLflow's limits."""
    if value is None:
        raise InvalidParameterError("A dataset input has no dataset (None); pass a dataset.")
    if not isinstance(value, Dataset):
        convert = getattr(value, "_to_mlflow_entity", None)
        if callable(convert):  # an mlflow.data dataset: its entity holds the text fields
            value = convert()
    found = {name: getattr(value, name, _MISSING) for name, _, _ in DATASET_FIELDS}
    if any(found[name] is _MISSING for name, _, required in DATASET_FIELDS if required):
        raise InvalidParameterError(
            f"{preview(value)} of type {type(value).__name__} is not a dataset: pass a "
            "runstack.Dataset, an mlflow.entities.Dataset or an mlflow.data dataset."
        )
    label = "Dataset"
    checked: dict[str, Any] = {}
    for name, limit, required in DATASET_FIELDS:
        field = found[name]
        if field is None or field is _MISSING:
            if required:
                raise InvalidParameterError(
                    f"{label} has no {name}; a dataset's {name} is required."
                )
            checked[name] = None
            continue
        checked[name] = _text(field, f"{label} {name}", limit)
        if name == "name":
            label = f"Dataset {preview(field)}"
    return Dataset(**checked)


def check_input_tags(tags: object, dataset_name: str) -> tuple[InputTag, ...]:
    """Tags of one input, in the given order; a key repeated with the same value is kept
    once, with another value it is an error (which one was meant is unknowable)."""
    if tags is None:
        return ()
    if isinstance(tags, (str, bytes, Mapping)) or not isinstance(tags, Iterable):
        raise InvalidParameterError(
            f"The tags of dataset {dataset_name!r} must be a list of input tags, got "
            f"{type(tags).__name__}."
        )
    checked: dict[str, str] = {}
    for tag in tags:
        key, value = check_input_tag(getattr(tag, "key", None), getattr(tag, "value", None))
        if checked.setdefault(key, value) != value:
            raise InvalidParameterError(
                f"Input tag {key!r} of dataset {dataset_name!r} is given twice with different "
                f"values ({checked[key]!r} and {value!r}); give it once."
            )
    return tuple(InputTag(k, v) for k, v in checked.items())


def check_input_tag(key: object, value: object) -> tuple[str, str]:
    """An input tag's key (a non-empty string) and value (converted to ``str``, not None)."""
    if not isinstance(key, str) or not key:
        raise InvalidParameterError(
            f"Input tag key {preview(key)} is invalid: keys are non-empty strings."
        )
    checked_key = _text(key, "Input tag key", MAX_INPUT_TAG_KEY_LENGTH)
    if value is None:
        raise InvalidParameterError(f"Input tag {key!r} has no value (None); give a string.")
    return checked_key, _text(str(value), f"Input tag {key!r} value", MAX_INPUT_TAG_VALUE_LENGTH)


def refuse_model_inputs(models: object) -> None:
    """runstack has no logged models: any model input is an error, never dropped silently."""
    if models is None:
        return
    items = list(models) if isinstance(models, Iterable) else [models]
    present = [m for m in items if m is not None]
    if present:
        ids = ", ".join(repr(getattr(m, "model_id", m)) for m in present[:3])
        raise InvalidParameterError(
            f"Logged-model inputs are not supported by runstack, which has no logged models "
            f"(got {len(present)}: {ids}); nothing was logged. Log datasets only, or record "
            "the model id as a tag."
        )


def _text(value: object, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidParameterError(
            f"{what} {preview(value)} is of type {type(value).__name__}; it must be a string."
        )
    if len(value) > limit:
        raise InvalidParameterError(
            f"{what} starting {preview(value[:40])} is {len(value)} characters long; the limit "
            f"is {limit}. runstack never truncates values: shorten it."
        )
    require_storable(value, what)
    return value
