"""MLflow's experiment endpoints (``/api/2.0/mlflow/experiments/...``).

Each handler validates its input with the same rules as ``TrackingClient`` and then makes
one store call, so the server accepts exactly what the Python API accepts.
"""

from __future__ import annotations

from typing import Any

from runstack.artifacts.locations import check_artifact_location
from runstack.entities import ViewType
from runstack.errors import InvalidParameterError, ResourceNotFoundError
from runstack.server.endpoints import GET, GET_POST, POST, Endpoint
from runstack.server.fields import ENUM, INT64, KEY_VALUES, STRING, STRINGS, Field
from runstack.store.base import Store
from runstack.validation import (
    preview,
    validate_experiment_id,
    validate_experiment_name,
    validate_experiment_tag,
    validate_key,
)
from runstack.wire import encode_experiment, omit_empty

DEFAULT_MAX_RESULTS = 1000
EXPERIMENT_ID = Field("experiment_id", STRING, required=True, doc="The experiment's id.")


def view_type(name: str, value: str | int | None) -> ViewType:
    """ViewType from its name or number; None means ACTIVE_ONLY."""
    if value is None:
        return ViewType.ACTIVE_ONLY
    try:
        return ViewType(value) if isinstance(value, int) else ViewType[value.upper()]
    except (KeyError, ValueError):
        raise InvalidParameterError(
            f"Invalid value {preview(value)} for parameter '{name}': use ACTIVE_ONLY (1), "
            "DELETED_ONLY (2) or ALL (3)."
        ) from None


def create(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    name = validate_experiment_name(args["name"])
    location = check_artifact_location(args["artifact_location"])
    tags = [validate_experiment_tag(k, v) for k, v in args["tags"]]
    return {"experiment_id": store.create_experiment(name, location, tags)}


def get(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    experiment = store.get_experiment(validate_experiment_id(args["experiment_id"]))
    return {"experiment": encode_experiment(experiment)}


def get_by_name(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    name = validate_experiment_name(args["experiment_name"])
    experiment = store.get_experiment_by_name(name)
    if experiment is None:
        raise ResourceNotFoundError(f"No experiment named {name!r} exists.")
    return {"experiment": encode_experiment(experiment)}


def search(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    # MLflow answers 400 when max_results is omitted; runstack uses the documented default.
    max_results = args["max_results"]
    page = store.search_experiments(
        view_type("view_type", args["view_type"]),
        DEFAULT_MAX_RESULTS if max_results is None else max_results,
        args["filter"] or None,
        args["order_by"] or None,
        args["page_token"] or None,
    )
    return omit_empty(
        {"experiments": [encode_experiment(e) for e in page], "next_page_token": page.token}
    )


def delete(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    store.delete_experiment(validate_experiment_id(args["experiment_id"]))
    return {}


def restore(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    store.restore_experiment(validate_experiment_id(args["experiment_id"]))
    return {}


def update(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    store.rename_experiment(
        validate_experiment_id(args["experiment_id"]), validate_experiment_name(args["new_name"])
    )
    return {}


def set_tag(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    key, value = validate_experiment_tag(args["key"], args["value"] or "")
    store.set_experiment_tag(validate_experiment_id(args["experiment_id"]), key, value)
    return {}


def delete_tag(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    store.delete_experiment_tag(
        validate_experiment_id(args["experiment_id"]), validate_key(args["key"], "Experiment tag")
    )
    return {}


_TAGS = Field("tags", KEY_VALUES, doc="Experiment tags, [{key, value}].")
_KEY = Field("key", STRING, required=True, doc="Tag key.")

ENDPOINTS = (
    Endpoint(
        "experiments/create",
        POST,
        (
            Field("name", STRING, required=True, doc="Unique name, at most 500 characters."),
            Field("artifact_location", STRING, doc="Where runs keep artifacts."),
            _TAGS,
        ),
        create,
        "Create an experiment.",
        "{experiment_id}",
    ),
    Endpoint(
        "experiments/get",
        GET,
        (EXPERIMENT_ID,),
        get,
        "Get an experiment by id.",
        "{experiment: Experiment}",
    ),
    Endpoint(
        "experiments/get-by-name",
        GET,
        (Field("experiment_name", STRING, required=True, doc="The experiment's name."),),
        get_by_name,
        "Get an experiment by name (deleted ones included); 404 when there is none.",
        "{experiment: Experiment}",
    ),
    Endpoint(
        "experiments/search",
        GET_POST,
        (
            Field("max_results", INT64, doc="Page size, 1..50000 (default 1000)."),
            Field("page_token", STRING, doc="next_page_token of the previous page."),
            Field("filter", STRING, doc="Filter string, e.g. \"name LIKE 'a%'\"."),
            Field("order_by", STRINGS, doc='Order keys, e.g. "creation_time DESC".'),
            Field("view_type", ENUM, doc="ACTIVE_ONLY (1, default), DELETED_ONLY (2) or ALL (3)."),
        ),
        search,
        "Search experiments, one page at a time.",
        "{experiments: [Experiment], next_page_token?}",
    ),
    Endpoint(
        "experiments/delete",
        POST,
        (EXPERIMENT_ID,),
        delete,
        "Soft-delete an experiment and its active runs.",
        "{}",
    ),
    Endpoint(
        "experiments/restore",
        POST,
        (EXPERIMENT_ID,),
        restore,
        "Restore a deleted experiment and the runs its deletion hid.",
        "{}",
    ),
    Endpoint(
        "experiments/update",
        POST,
        (EXPERIMENT_ID, Field("new_name", STRING, required=True, doc="The new unique name.")),
        update,
        "Rename an experiment.",
        "{}",
    ),
    Endpoint(
        "experiments/set-experiment-tag",
        POST,
        (EXPERIMENT_ID, _KEY, Field("value", STRING, doc="Tag value (20000 characters max).")),
        set_tag,
        "Set a tag on an experiment.",
        "{}",
    ),
    Endpoint(
        "experiments/delete-experiment-tag",
        POST,
        (EXPERIMENT_ID, _KEY),
        delete_tag,
        "Delete a tag of an experiment.",
        "{}",
    ),
)
