"""The REST store: the ``Store`` interface over HTTP, for ``http(s)://host:port`` tracking URIs.

It talks to runstack's server and to MLflow's. A runstack server (it answers
``/api/2.0/runstack/server-info``) gets every store call as one request that the server
runs as one transaction: runs created under a checked parent with a heartbeat lease,
atomic resumes and batches, heartbeat renewal. Any other server gets MLflow's endpoints
only: resume and large batches then take several requests, and heartbeats are not sent.

Retries: a request that never reached the server (no connection) is retried whatever it
is. A request that may have been applied is retried only when applying it twice is harmless
(reads, status updates, deletes and restores, heartbeats): a run or experiment creation, a
batch of metrics or a tag deletion is never replayed blindly; the caller gets an error that
says the outcome is unknown. A deterministic server error (500) is never retried, and errors
carry the server's own ``error_code`` and message.

Requests go through ``runstack.store.http_pool`` (standard library only).
"""

from __future__ import annotations

import json
import os
import random
import time
import urllib.parse
from collections.abc import Sequence
from typing import Any

from runstack import settings
from runstack.entities import (
    DatasetInput,
    Experiment,
    Metric,
    PagedList,
    Run,
    RunInfo,
    ViewType,
)
from runstack.errors import (
    InvalidParameterError,
    InvalidStateError,
    ResourceAlreadyExistsError,
    ResourceNotFoundError,
    RunstackError,
    StoreUnavailableError,
)
from runstack.signal_deferral import critical_section
from runstack.store.http_pool import ConnectFailed, ConnectionPool, TransportFailed
from runstack.store.ui_types import (
    ExperimentActivity,
    KeyKind,
    MetricSeries,
    RunTablePage,
    RunTableQuery,
)
from runstack.wire import (
    decode_experiment,
    decode_metric,
    decode_run,
    decode_run_info,
    encode_dataset_input,
    encode_metric,
    encode_pairs,
)

MLFLOW = "/api/2.0/mlflow/"
RUNSTACK = "/api/2.0/runstack/"
# MLflow's per-request log-batch limits, used to split batches for MLflow servers.
MLFLOW_BATCH_LIMITS = {"metrics": 1000, "params": 100, "tags": 100, "total": 1000}
HISTORY_PAGE = 25_000
_RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})

# How a request may be retried.
SAFE = "safe"  # applying it twice is harmless
UNSENT = "unsent"  # retried only when it certainly never reached the server

_ERRORS: dict[str, type[RunstackError]] = {
    "INVALID_PARAMETER_VALUE": InvalidParameterError,
    "BAD_REQUEST": InvalidParameterError,
    "MALFORMED_REQUEST": InvalidParameterError,
    "RESOURCE_DOES_NOT_EXIST": ResourceNotFoundError,
    "NOT_FOUND": ResourceNotFoundError,
    "ENDPOINT_NOT_FOUND": ResourceNotFoundError,
    "RESOURCE_ALREADY_EXISTS": ResourceAlreadyExistsError,
    "INVALID_STATE": InvalidStateError,
    "TEMPORARILY_UNAVAILABLE": StoreUnavailableError,
}


def server_error(status: int, body: bytes, what: str) -> RunstackError:
    """The server's error as runstack's exception: its code and message kept as they are."""
    try:
        data = json.loads(body)
        code, message = data["error_code"], data["message"]
        if isinstance(code, str) and isinstance(message, str):
            return _ERRORS.get(code, RunstackError)(message, code)
    except (ValueError, KeyError, TypeError):
        pass
    text = body.decode("utf-8", "replace").strip().replace("\n", " ")[:200]
    code = {404: "ENDPOINT_NOT_FOUND", 503: "TEMPORARILY_UNAVAILABLE"}.get(
        status, "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST"
    )
    return _ERRORS.get(code, RunstackError)(
        f"{what} answered HTTP {status} without a runstack/MLflow error body: {text!r}", code
    )


def mlflow_batches(
    metrics: Sequence[Metric], params: Sequence[tuple[str, str]], tags: Sequence[tuple[str, str]]
) -> list[dict[str, list[Any]]]:
    """Split a batch within MLflow's per-request limits: params and tags first, as MLflow's
    own client does, then the metrics."""
    limits = MLFLOW_BATCH_LIMITS
    pieces: list[dict[str, list[Any]]] = []
    p, t, m = list(params), list(tags), list(metrics)
    while p or t or not pieces:
        pieces.append({"params": p[: limits["params"]], "tags": t[: limits["tags"]], "metrics": []})
        p, t = p[limits["params"] :], t[limits["tags"] :]
    last = pieces[-1]
    while m:
        room = min(limits["metrics"], limits["total"] - len(last["params"]) - len(last["tags"]))
        last["metrics"], m = m[:room], m[room:]
        if m:
            last = {"params": [], "tags": [], "metrics": []}
            pieces.append(last)
    return pieces


# HTTP -----------------------------------------------------------------------------------------


class HttpSession:
    """Keep-alive connections to one server (re-created after fork), with retries."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = settings.HTTP_REQUEST_TIMEOUT.read()
        self.max_retries = settings.HTTP_MAX_RETRIES.read()
        self._pool: ConnectionPool | None = None
        self._pid = 0

    def _connections(self) -> ConnectionPool:
        if self._pool is None or self._pid != os.getpid():
            try:
                self._pool = ConnectionPool(
                    self.base_url, self.timeout, verify=self._verify(), headers=self._headers()
                )
            except ValueError as error:
                raise InvalidParameterError(f"Tracking URI: {error}.") from None
            self._pid = os.getpid()
        return self._pool

    @staticmethod
    def _verify() -> bool | str:
        if settings.TRACKING_INSECURE_TLS.read():
            return False
        return settings.TRACKING_SERVER_CERT_PATH.read() or True

    @staticmethod
    def _headers() -> dict[str, str]:
        """MLflow's authentication variables: a bearer token, or a user name and password."""
        import base64

        headers = {"User-Agent": "runstack", "Content-Type": "application/json"}
        token = settings.TRACKING_TOKEN.read()
        user = settings.TRACKING_USERNAME.read()
        password = settings.TRACKING_PASSWORD.read()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif user and password:
            pair = base64.b64encode(f"{user}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {pair}"
        return headers

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, retry: str = SAFE
    ) -> dict[str, Any]:
        """Send one request; return the JSON body of a 200, raise the server's error."""
        what = f"{method} {self.base_url + path}"
        content = None
        if method == "GET":  # GET endpoints take query parameters, lists as repeated keys
            if body:
                path += "?" + urllib.parse.urlencode(body, doseq=True)
        elif body is not None:
            content = json.dumps(body, separators=(",", ":")).encode()
        attempt = 0
        while True:
            try:
                # A SIGTERM arriving mid-request waits until the request is done: its handler
                # sends requests itself, through these same connections (see signal_deferral.py).
                with critical_section():
                    response = self._connections().request(method, path, content)
            except ConnectFailed as error:
                failure: RunstackError = StoreUnavailableError(
                    f"Cannot reach the tracking server at {self.base_url} ({error}); is it "
                    "running, and is the tracking URI right?"
                )
            except TransportFailed as error:
                failure = StoreUnavailableError(
                    f"The connection to the tracking server failed during {what} ({error})."
                )
                if retry != SAFE:
                    raise StoreUnavailableError(
                        f"{failure.message} The request may or may not have been applied; it "
                        "was not repeated because repeating it could apply it twice. Check "
                        "the run or experiment before trying again."
                    ) from None
            else:
                if response.status == 200:
                    try:
                        result: dict[str, Any] = json.loads(response.body)
                    except ValueError:
                        raise StoreUnavailableError(
                            f"{what} answered 200 with a body that is not JSON; is "
                            f"{self.base_url} a tracking server?"
                        ) from None
                    return result
                failure = server_error(response.status, response.body, what)
                if response.status not in _RETRY_STATUSES or retry != SAFE:
                    raise failure
            attempt += 1
            if attempt > self.max_retries:
                raise failure
            time.sleep(min(10.0, 0.1 * 2 ** (attempt - 1)) * (0.5 + random.random()))

    def close(self) -> None:
        if self._pool is not None and self._pid == os.getpid():
            self._pool.close()
        self._pool = None


# The store ------------------------------------------------------------------------------------


class RestStore:
    """A tracking server as a ``Store``. ``api`` forces "runstack" or "mlflow" endpoints."""

    def __init__(self, uri: str, api: str | None = None) -> None:
        self.uri = uri
        self.http = HttpSession(uri)
        chosen = api or settings.REST_API.read()
        if chosen not in (None, "runstack", "mlflow"):
            raise InvalidParameterError(f"api={chosen!r}: use 'runstack' or 'mlflow'.")
        self._api = chosen
        self.max_request_bytes: int | None = None

    @property
    def is_runstack(self) -> bool:
        """Whether the server has runstack's endpoints (asked once)."""
        if self._api is None:
            try:
                info = self.http.call("GET", RUNSTACK + "server-info")
            except (ResourceNotFoundError, InvalidParameterError):
                info = {}
            if info.get("server") == "runstack" and info.get("api_version") == 1:
                self._api = "runstack"
                limit = info.get("max_request_bytes")
                self.max_request_bytes = limit if isinstance(limit, int) else None
            else:
                self._api = "mlflow"
        return self._api == "runstack"

    def _mlflow(self, method: str, path: str, body: dict[str, Any], retry: str = SAFE) -> Any:
        return self.http.call(method, MLFLOW + path, body, retry)

    def close(self) -> None:
        self.http.close()

    # Experiments ---------------------------------------------------------------------------

    def create_experiment(
        self, name: str, artifact_location: str | None, tags: Sequence[tuple[str, str]]
    ) -> str:
        body: dict[str, Any] = {"name": name, "tags": encode_pairs(tags)}
        if artifact_location is not None:
            body["artifact_location"] = artifact_location
        return str(self._mlflow("POST", "experiments/create", body, UNSENT)["experiment_id"])

    def get_experiment(self, experiment_id: str) -> Experiment:
        found = self._mlflow("GET", "experiments/get", {"experiment_id": experiment_id})
        return decode_experiment(found["experiment"])

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        try:
            found = self._mlflow("GET", "experiments/get-by-name", {"experiment_name": name})
        except ResourceNotFoundError as error:
            if error.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        return decode_experiment(found["experiment"])

    def delete_experiment(self, experiment_id: str) -> None:
        self._mlflow("POST", "experiments/delete", {"experiment_id": experiment_id})

    def restore_experiment(self, experiment_id: str) -> None:
        self._mlflow("POST", "experiments/restore", {"experiment_id": experiment_id})

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        body = {"experiment_id": experiment_id, "new_name": new_name}
        self._mlflow("POST", "experiments/update", body)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        body = {"experiment_id": experiment_id, "key": key, "value": value}
        self._mlflow("POST", "experiments/set-experiment-tag", body)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        body = {"experiment_id": experiment_id, "key": key}
        self._mlflow("POST", "experiments/delete-experiment-tag", body, UNSENT)

    def search_experiments(
        self,
        view_type: ViewType,
        max_results: int,
        filter_string: str | None,
        order_by: Sequence[str] | None,
        page_token: str | None,
    ) -> PagedList:
        body: dict[str, Any] = {"view_type": int(view_type), "max_results": max_results}
        body.update(
            _optional(filter=filter_string, order_by=list(order_by or []), page_token=page_token)
        )
        found = self._mlflow("POST", "experiments/search", body)
        return PagedList(
            [decode_experiment(e) for e in found.get("experiments", ())],
            found.get("next_page_token") or None,
        )

    # Runs ----------------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        user_id: str,
        start_time: int,
        run_name: str,
        tags: Sequence[tuple[str, str]],
        parent_run_id: str | None,
        heartbeat_timeout_ms: int | None,
    ) -> Run:
        body: dict[str, Any] = {
            "experiment_id": experiment_id,
            "user_id": user_id,
            "start_time": start_time,
            "run_name": run_name,
            "tags": encode_pairs(tags),
        }
        if self.is_runstack:
            body.update(
                _optional(parent_run_id=parent_run_id, heartbeat_timeout_ms=heartbeat_timeout_ms)
            )
            return decode_run(self.http.call("POST", RUNSTACK + "runs/create", body, UNSENT)["run"])
        if parent_run_id is not None:  # checked, but not in the same transaction
            self._require_active(parent_run_id, "Parent run")
        return decode_run(self._mlflow("POST", "runs/create", body, UNSENT)["run"])

    def _require_active(self, run_id: str, what: str) -> Run:
        run = self.get_run(run_id)
        if run.info.lifecycle_stage != "active":
            raise InvalidStateError(
                f"{what} {run_id} is deleted; restore it with restore_run() before using it."
            )
        return run

    def resume_run(
        self,
        run_id: str,
        expected_experiment_id: str | None,
        run_name: str | None,
        tags: Sequence[tuple[str, str]],
        heartbeat_timeout_ms: int | None,
    ) -> Run:
        if self.is_runstack:
            body = {"run_id": run_id, "tags": encode_pairs(tags)}
            body.update(
                _optional(
                    experiment_id=expected_experiment_id,
                    run_name=run_name,
                    heartbeat_timeout_ms=heartbeat_timeout_ms,
                )
            )
            return decode_run(self.http.call("POST", RUNSTACK + "runs/resume", body)["run"])
        # MLflow's API: check, then set RUNNING, then tag (not one transaction).
        run = self._require_active(run_id, "Run")
        if expected_experiment_id is not None and run.info.experiment_id != expected_experiment_id:
            raise InvalidParameterError(
                f"Run {run_id} belongs to experiment {run.info.experiment_id}, not "
                f"{expected_experiment_id}; resume it without experiment_id or with "
                f"experiment_id={run.info.experiment_id!r}."
            )
        self.update_run(run_id, "RUNNING", None, run_name)
        if tags:
            self.log_batch(run_id, [], [], tags)
        return self.get_run(run_id)

    def get_run(self, run_id: str) -> Run:
        return decode_run(self._mlflow("GET", "runs/get", {"run_id": run_id})["run"])

    def update_run(
        self, run_id: str, status: str | None, end_time: int | None, run_name: str | None
    ) -> RunInfo:
        body = {"run_id": run_id, **_optional(status=status, end_time=end_time, run_name=run_name)}
        return decode_run_info(self._mlflow("POST", "runs/update", body)["run_info"])

    def delete_run(self, run_id: str) -> None:
        self._mlflow("POST", "runs/delete", {"run_id": run_id})

    def restore_run(self, run_id: str) -> None:
        self._mlflow("POST", "runs/restore", {"run_id": run_id})

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric],
        params: Sequence[tuple[str, str]],
        tags: Sequence[tuple[str, str]],
    ) -> None:
        single = _single_value_request(run_id, metrics, params, tags)
        if single is not None:
            path, body, retry = single
            self._mlflow("POST", path, body, retry)
            return
        if self.is_runstack:
            body = {
                "run_id": run_id,
                "metrics": [encode_metric(m) for m in metrics],
                "params": encode_pairs(params),
                "tags": encode_pairs(tags),
            }
            self._check_size(body, len(metrics) + len(params) + len(tags))
            self.http.call("POST", RUNSTACK + "runs/log-batch", body, _batch_retry(metrics))
            return
        for piece in mlflow_batches(metrics, params, tags):
            body = {
                "run_id": run_id,
                "metrics": [encode_metric(m) for m in piece["metrics"]],
                "params": encode_pairs(piece["params"]),
                "tags": encode_pairs(piece["tags"]),
            }
            self._mlflow("POST", "runs/log-batch", body, _batch_retry(piece["metrics"]))

    def _check_size(self, body: dict[str, Any], count: int) -> None:
        limit = self.max_request_bytes
        if limit is None or count < 1000:
            return
        size = len(json.dumps(body, separators=(",", ":")))
        if size > limit:
            raise InvalidParameterError(
                f"This batch of {count} values is {size} bytes as JSON, over the server's "
                f"request limit of {limit} bytes, so it cannot be written in one transaction. "
                "Log it in several smaller calls."
            )

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        # Safe to repeat: inputs the run already has are kept as they are.
        body = {"run_id": run_id, "datasets": [encode_dataset_input(d) for d in datasets]}
        limit = self.max_request_bytes if self.is_runstack else None
        size = len(json.dumps(body, separators=(",", ":"))) if limit is not None else 0
        if limit is not None and size > limit:
            raise InvalidParameterError(
                f"These {len(datasets)} dataset inputs are {size} bytes as JSON, over the "
                f"server's request limit of {limit} bytes (RUNSTACK_SERVER_MAX_BODY_BYTES on "
                "the server); nothing was logged. Log fewer or smaller datasets per call."
            )
        self._mlflow("POST", "runs/log-inputs", body)

    def delete_tag(self, run_id: str, key: str) -> None:
        self._mlflow("POST", "runs/delete-tag", {"run_id": run_id, "key": key}, UNSENT)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        history: list[Metric] = []
        token: str | None = None
        while True:
            body = {
                "run_id": run_id,
                "metric_key": key,
                "max_results": HISTORY_PAGE,
                **_optional(page_token=token),
            }
            page = self._mlflow("GET", "metrics/get-history", body)
            history += [decode_metric(m, run_id) for m in page.get("metrics", ())]
            token = page.get("next_page_token") or None
            if token is None:
                return history

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None,
        view_type: ViewType,
        max_results: int,
        order_by: Sequence[str] | None,
        page_token: str | None,
    ) -> PagedList:
        body: dict[str, Any] = {
            "experiment_ids": list(experiment_ids),
            "run_view_type": int(view_type),
            "max_results": max_results,
        }
        body.update(
            _optional(filter=filter_string, order_by=list(order_by or []), page_token=page_token)
        )
        found = self._mlflow("POST", "runs/search", body)
        return PagedList(
            [decode_run(r) for r in found.get("runs", ())], found.get("next_page_token") or None
        )

    def renew_heartbeats(self, run_ids: Sequence[str], timeout_ms: int) -> None:
        if run_ids and self.is_runstack:  # MLflow servers know no leases: nothing to renew
            body = {"run_ids": list(run_ids), "timeout_ms": timeout_ms}
            self.http.call("POST", RUNSTACK + "runs/renew-heartbeats", body)

    def reap_dead_runs(self) -> list[str]:
        """Nothing: the server owns the database and sweeps it itself (see server/reaper.py)."""
        return []

    # The web UI's reads are served by a runstack server from its own SQL store; a client
    # of that server does not need them.
    def _ui_only(self, what: str) -> RunstackError:
        return RunstackError(
            f"{what} is a web UI read that only the SQL store answers; open the database "
            "directly (sqlite:///... or postgresql://...) or use the server's "
            "/api/2.0/runstack/ui/ endpoints.",
            "NOT_IMPLEMENTED",
        )

    def experiment_activity(self, experiment_ids: Sequence[str]) -> dict[str, ExperimentActivity]:
        raise self._ui_only("experiment_activity")

    def experiment_keys(
        self, experiment_ids: Sequence[str], kind: KeyKind, contains: str, max_results: int
    ) -> tuple[list[str], bool]:
        raise self._ui_only("experiment_keys")

    def runs_table(self, query: RunTableQuery) -> RunTablePage:
        raise self._ui_only("runs_table")

    def metric_value_ranges(self, run_id: str) -> dict[str, tuple[float | None, float | None, int]]:
        raise self._ui_only("metric_value_ranges")

    def metric_series(
        self,
        run_ids: Sequence[str],
        key: str,
        max_points: int,
        min_step: int | None,
        max_step: int | None,
    ) -> list[MetricSeries]:
        raise self._ui_only("metric_series")


def _single_value_request(
    run_id: str,
    metrics: Sequence[Metric],
    params: Sequence[tuple[str, str]],
    tags: Sequence[tuple[str, str]],
) -> tuple[str, dict[str, Any], str] | None:
    """(path, body, retry) of MLflow's endpoint for one metric, param or tag, when that is all
    there is to log: servers do less for it than for a batch (runstack's server answers it on
    its event loop, see server/app.py)."""
    if len(metrics) + len(params) + len(tags) != 1:
        return None
    if metrics:
        return "runs/log-metric", {"run_id": run_id, **encode_metric(metrics[0])}, UNSENT
    key, value = params[0] if params else tags[0]
    path = "runs/log-parameter" if params else "runs/set-tag"
    return path, {"run_id": run_id, "key": key, "value": value}, SAFE


def _batch_retry(metrics: Sequence[Metric]) -> str:
    """Params and tags written twice are unchanged; metrics would be logged twice."""
    return UNSENT if metrics else SAFE


def _optional(**values: Any) -> dict[str, Any]:
    """The given values that are set (not None, not empty)."""
    return {k: v for k, v in values.items() if v is not None and v != [] and v != ""}
