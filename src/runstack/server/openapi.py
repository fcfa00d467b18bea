"""The OpenAPI 3.1 document of the server, built from the endpoint tables.

Request fields come from the same ``Field`` tables the server parses with, so the document
lists exactly what each endpoint accepts. GET endpoints take query parameters (repeated keys
for lists); POST endpoints take a JSON object.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from runstack import __version__
from runstack.server import fields as f
from runstack.server import openapi_rules as rules
from runstack.server.endpoints import Endpoint

_KEY_VALUE = {
    "type": "object",
    "properties": {"key": {"type": "string"}, "value": {"type": "string"}},
    "required": ["key"],
}
_DOUBLE = {
    "oneOf": [
        {"type": "number"},
        {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]},
        {"type": "string", "pattern": rules.DOUBLE_TEXT, "maxLength": 400},
    ]
}
_METRIC = {
    "type": "object",
    "properties": {
        "key": rules.KEY,
        "value": _DOUBLE,
        "timestamp": rules.MILLIS,
        "step": rules.int64(),
        "run_id": {"type": "string"},
    },
    "required": ["key", "value", "timestamp"],
}
_TEXT = rules.TEXT
_DATASET = {
    "type": "object",
    "description": "A dataset; identified within its experiment by (name, digest).",
    "properties": {
        "name": {**_TEXT, "maxLength": 500},
        "digest": {**_TEXT, "maxLength": 36},
        "source_type": {**_TEXT, "maxLength": 36},
        "source": {**_TEXT, "maxLength": 65535},
        "schema": {**_TEXT, "maxLength": 1048575},
        "profile": {**_TEXT, "maxLength": 16777215},
    },
    "required": ["name", "digest", "source_type", "source"],
}
_INPUT_TAG = {
    "type": "object",
    "properties": {
        "key": {**_TEXT, "minLength": 1, "maxLength": 255},
        "value": {**_TEXT, "maxLength": 500},
    },
    "required": ["key"],
}
_DATASET_INPUT = {
    "type": "object",
    "description": "A run's use of a dataset; the tag mlflow.data.context is its context.",
    "properties": {
        "dataset": {"$ref": "#/components/schemas/Dataset"},
        "tags": {"type": "array", "items": {"$ref": "#/components/schemas/InputTag"}},
    },
    "required": ["dataset"],
}
_SCHEMAS: dict[str, Any] = {
    f.STRING: rules.TEXT,
    f.INT64: rules.int64(),
    f.DOUBLE: _DOUBLE,
    f.BOOL: {"type": "boolean"},
    f.ENUM: {"oneOf": [{"type": "string"}, {"type": "integer"}]},
    f.STRINGS: {"type": "array", "items": {"type": "string"}},
    f.KEY_VALUES: {"type": "array", "items": {"$ref": "#/components/schemas/KeyValue"}},
    f.METRICS: {"type": "array", "items": {"$ref": "#/components/schemas/Metric"}},
    f.OBJECTS: {"type": "array", "items": {"type": "object"}},
    f.OBJECT: {"type": "object"},
    f.DATASET_INPUTS: {
        "type": "array",
        "items": {"$ref": "#/components/schemas/DatasetInput"},
        "maxItems": 1000,
    },
}
_INT64 = {"type": "integer", "format": "int64"}
_RUN_INFO = {
    "type": "object",
    "properties": {
        name: ({"type": "string"} if name not in ("start_time", "end_time") else _INT64)
        for name in (
            "run_id",
            "run_uuid",
            "run_name",
            "experiment_id",
            "user_id",
            "status",
            "start_time",
            "end_time",
            "artifact_uri",
            "lifecycle_stage",
        )
    },
}
_COMPONENTS = {
    "KeyValue": _KEY_VALUE,
    "Metric": _METRIC,
    "RunInfo": _RUN_INFO,
    "Dataset": _DATASET,
    "InputTag": _INPUT_TAG,
    "DatasetInput": _DATASET_INPUT,
    "Run": {
        "type": "object",
        "properties": {
            "info": {"$ref": "#/components/schemas/RunInfo"},
            "data": {
                "type": "object",
                "properties": {
                    "metrics": {"type": "array", "items": {"$ref": "#/components/schemas/Metric"}},
                    "params": {"type": "array", "items": _KEY_VALUE},
                    "tags": {"type": "array", "items": _KEY_VALUE},
                },
            },
            "inputs": {
                "type": "object",
                "description": "{} for a run without inputs; runstack sends no model_inputs.",
                "properties": {
                    "dataset_inputs": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/DatasetInput"},
                    }
                },
            },
            "outputs": {"type": "object"},
        },
    },
    "Experiment": {
        "type": "object",
        "properties": {
            "experiment_id": {"type": "string"},
            "name": {"type": "string"},
            "artifact_location": {"type": "string"},
            "lifecycle_stage": {"type": "string", "enum": ["active", "deleted"]},
            "creation_time": _INT64,
            "last_update_time": _INT64,
            "tags": {"type": "array", "items": _KEY_VALUE},
            "workspace": {"type": "string"},
        },
    },
    "Error": {
        "type": "object",
        "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}},
        "required": ["error_code", "message"],
    },
}
_ERROR = {
    "description": "An error: 400 bad value, 404 unknown id or path, 405 wrong method, "
    "413 body over the limit, 500 server failure, 501 not implemented, 503 database down.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _schema(endpoint: Endpoint, field: f.Field) -> dict[str, Any]:
    """A field's schema; an optional one may also be null, which means absent (proto3)."""
    schema = rules.field_schema(endpoint.path, field.name, _SCHEMAS[field.kind])
    if field.required:
        if field.repeated and schema.get("type") == "array":
            return {**schema, "minItems": max(1, schema.get("minItems", 1))}  # [] is missing
        return schema
    return {"anyOf": [schema, {"type": "null"}]}


def _operation(endpoint: Endpoint, method: str) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": endpoint.summary,
        "operationId": f"{method.lower()}_{endpoint.full_path.strip('/').replace('/', '_')}",
        "responses": {
            "200": {
                "description": f"Response body: {endpoint.response}",
                "content": {
                    endpoint.media_type: {
                        "schema": {"type": "object"}
                        if endpoint.media_type == "application/json"
                        else {"type": "string", "format": "binary"}
                    }
                },
            },
            "default": _ERROR,
        },
    }
    if method == "GET":
        operation["parameters"] = [
            {
                "name": field.name,
                "in": "query",
                "required": field.required,
                "description": field.doc,
                "schema": _schema(endpoint, field),
                **({"explode": True} if field.repeated else {}),
            }
            for field in endpoint.fields
        ]
    else:
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {
                field.name: {**_schema(endpoint, field), "description": field.doc}
                for field in endpoint.fields
            },
        }
        required = [field.name for field in endpoint.fields if field.required]
        if required:
            schema["required"] = required
        operation["requestBody"] = {
            "required": bool(required),
            "content": {"application/json": {"schema": schema}},
        }
    return operation


def openapi_document(endpoints: Iterable[Endpoint]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        item = paths.setdefault(endpoint.full_path, {})
        for method in endpoint.methods:
            item[method.lower()] = _operation(endpoint, method)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "runstack tracking server",
            "version": __version__,
            "description": "MLflow's tracking REST API (/api/2.0/mlflow/, also under "
            "/ajax-api/2.0/mlflow/), MLflow's auth API for users and permissions (with "
            "--auth; MLflow 3's per-user permissions under /api/3.0/mlflow/) and runstack's "
            "additions (/api/2.0/runstack/). Errors are JSON {error_code, message} on every "
            "/api/ path.",
        },
        "paths": paths,
        "components": {"schemas": _COMPONENTS},
    }
