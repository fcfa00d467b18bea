"""Why each of MLflow's server tests that runstack does not pass fails: every known failure has
a category and a reason, so a run can tell an expected failure from a regression.

Categories: ``scope`` (a feature runstack does not have: model registry, logged models,
traces, GraphQL, MLflow's UI-only routes, gateway, evaluation datasets, ...), ``documented``
(a deliberate difference listed in docs/compatibility.md), ``internals`` (the test depends on
MLflow's server implementation or source tree, or expects another MLflow version than
3.17). A failure of a test not listed here is ``unexpected``: a runstack bug until shown
otherwise.
"""

from __future__ import annotations

SCOPE = "scope"
DOCUMENTED = "documented"
INTERNALS = "internals"
UNEXPECTED = "unexpected"

_REGISTRY = "model registry (runstack has none)"
_LOGGED_MODELS = "logged models (runstack has none)"
_TRACES = "traces / GenAI (runstack has none)"
_GRAPHQL = "MLflow's /graphql endpoint (MLflow's UI only)"
_EVAL_DATASETS = "GenAI evaluation datasets (runstack has none)"
_GATEWAY = "AI gateway, secrets and endpoints (runstack has none)"
_GET_ARTIFACT = (
    "MLflow's UI download route /get-artifact (runstack's UI uses "
    "/api/2.0/runstack/ui/artifacts/get)"
)

_GROUPS: dict[tuple[str, str], tuple[str, ...]] = {
    (SCOPE, _REGISTRY): (
        "test_create_model_version_with_path_source",
        "test_create_model_version_with_non_local_source",
        "test_create_model_version_with_file_uri",
        "test_create_model_version_with_validation_regex",
        "test_create_model_version_model_id",
        "test_rest_get_model_version_artifact_api_proxied_artifact_root",
    ),
    (SCOPE, _LOGGED_MODELS): (
        "test_log_metric_model",
        "test_log_model",
        "test_logging_model_with_local_artifact_uri",
        "test_log_inputs_model",
        "test_create_logged_model",
        "test_log_logged_model_params",
        "test_finalize_logged_model",
        "test_delete_logged_model",
        "test_set_logged_model_tags",
        "test_delete_logged_model_tag",
        "test_search_logged_models",
        "test_log_outputs",
        "test_list_logged_model_artifacts",
        "test_get_logged_model_artifact",
    ),
    (SCOPE, _TRACES): (
        "test_legacy_start_and_end_trace_v2",
        "test_start_trace",
        "test_get_trace",
        "test_search_traces",
        "test_search_traces_parameter_validation",
        "test_search_traces_match_text",
        "test_delete_traces",
        "test_calculate_trace_filter_correlation",
        "test_set_and_delete_trace_tag",
        "test_query_trace_metrics",
        "test_get_trace_handler",
        "test_get_trace_artifact_handler",
        "test_link_traces_to_run_and_search_traces",
        "test_assessments_end_to_end",
        "test_rest_store_logs_spans_via_otel_endpoint",
        "test_scorer_CRUD",
    ),
    (SCOPE, _GRAPHQL): (
        "test_graphql_handler",
        "test_graphql_handler_batching_raise_error",
        "test_get_experiment_graphql",
        "test_get_run_and_experiment_graphql",
        "test_get_metric_history_bulk_interval_graphql",
        "test_search_runs_graphql",
        "test_list_artifacts_graphql",
        "test_search_datasets_graphql",
        "test_graphql_nan_metric_handling",
    ),
    (SCOPE, _EVAL_DATASETS): (
        "test_create_and_get_evaluation_dataset",
        "test_search_evaluation_datasets",
        "test_evaluation_dataset_tag_operations",
        "test_evaluation_dataset_delete",
        "test_evaluation_dataset_upsert_records",
        "test_add_dataset_to_experiments_rest_tracking",
        "test_remove_dataset_from_experiments_rest_tracking",
        "test_add_multiple_experiments_at_once_rest_tracking",
        "test_dataset_experiment_association_error_cases_rest_tracking",
        "test_idempotent_add_experiments_rest_tracking",
        "test_idempotent_remove_experiments_rest_tracking",
        "test_client_api_add_remove_experiments_rest_tracking",
    ),
    (SCOPE, _GATEWAY): (
        "test_gateway_proxy_handler_rejects_invalid_requests",
        "test_create_promptlab_run_handler_rejects_invalid_requests",
        "test_create_promptlab_run_handler_returns_expected_results",
        "test_list_providers",
        "test_list_models",
        "test_get_provider_config",
    ),
    (SCOPE, "MLflow's UI-only ajax route metrics/get-history-bulk"): (
        "test_get_metric_history_bulk_rejects_invalid_requests",
        "test_get_metric_history_bulk_returns_expected_metrics_in_expected_order",
        "test_get_metric_history_bulk_respects_max_results",
    ),
    (SCOPE, "MLflow's UI-only ajax route experiments/search-datasets"): (
        "test_search_dataset_handler_rejects_invalid_requests",
        "test_search_dataset_handler_returns_expected_results",
    ),
    (SCOPE, "MLflow's UI-only upload route ajax-api/2.0/mlflow/upload-artifact"): (
        "test_upload_artifact_handler_rejects_invalid_requests",
        "test_upload_artifact_handler",
    ),
    (SCOPE, _GET_ARTIFACT): (
        "test_rest_get_artifact_api_proxied_with_artifacts",
        "test_mime_type_for_download_artifacts_api",
        "test_rest_get_artifact_api_log_image",
    ),
    (
        SCOPE,
        "also checks /get-artifact and /model-versions/get-artifact, and an exact message "
        "'Invalid path' (runstack names the path and the rule; MLflow 3.17.2 itself fails it)",
    ): ("test_path_validation",),
    (
        DOCUMENTED,
        "a parent run (mlflow.parentRunId tag) must exist: compatibility.md, Starting runs",
    ): ("test_create_run_all_args",),
    (
        DOCUMENTED,
        "matches MLflow's message texts ('Run ... not found', 'No tag with name'): "
        "compatibility.md, Errors",
    ): ("test_delete_tag",),
    (
        DOCUMENTED,
        "with the proxy on, new experiments get mlflow-artifacts:/<id>, not a file: location "
        "under the fixture's folder (passes with --artifacts direct): compatibility.md, Server",
    ): ("test_artifacts",),
    (
        INTERNALS,
        "expects the step sampling of MLflow before 3.17 (union of all runs' steps); "
        "MLflow 3.17.2's own server fails it too",
    ): ("test_get_metric_history_bulk_interval_respects_max_results",),
    (INTERNALS, "patches mlflow.server.handlers with a mock store"): (
        "test_get_metric_history_bulk_calls_optimized_impl_when_expected",
    ),
    (INTERNALS, "starts MLflow's own in-process server"): (
        "test_get_secrets_config_with_default_passphrase",
    ),
    (INTERNALS, "builds MLflow's docker-compose example from MLflow's source tree"): (
        "test_mlflow_artifacts_example",
    ),
}

KNOWN: dict[str, tuple[str, str]] = {name: key for key, names in _GROUPS.items() for name in names}


def classify(test_name: str) -> tuple[str, str]:
    """(category, reason) of a failing test, by its function name (parameters dropped)."""
    return KNOWN.get(test_name.split("[", 1)[0], (UNEXPECTED, "not a known difference"))
