"""MLflow's logged-model search, answered for a tracker that has no logged models.

MLflow's client asks it whenever it lists or downloads a run's artifacts below a folder
(``runs:/`` URIs look for a model of the folder's name): an empty page, the true answer here,
lets those calls go on to the run's own artifacts.
"""

from __future__ import annotations

from typing import Any

from runstack.server.endpoints import POST, Endpoint
from runstack.server.fields import INT64, OBJECTS, STRING, STRINGS, Field
from runstack.store.base import Store


def search(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    return {}


ENDPOINTS = (
    Endpoint(
        "logged-models/search",
        POST,
        (
            Field("experiment_ids", STRINGS, doc="Experiments to search."),
            Field("filter", STRING, doc="Filter string."),
            Field("datasets", OBJECTS, doc="Dataset filters."),
            Field("max_results", INT64, doc="Page size."),
            Field("order_by", OBJECTS, doc="Order keys."),
            Field("page_token", STRING, doc="next_page_token of the previous page."),
        ),
        search,
        "Search logged models: always an empty page (runstack has no logged models).",
        "{}",
    ),
)
