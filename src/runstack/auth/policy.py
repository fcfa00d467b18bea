"""Which permission each API endpoint needs, on which experiment.

Keyed by the endpoint's path below ``/api/<version>/`` (``mlflow/...`` or ``runstack/...``); the
server's own alias prefixes (``/ajax-api/``) share the rule. An endpoint missing from this
table is for admins only, so a new endpoint is closed until someone decides its rule (a test
checks that every endpoint has one).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from runstack.auth.permissions import Permission


class Target(Enum):
    """Where the experiment a request acts on comes from."""

    NONE = "none"  # no experiment: any signed-in user
    EXPERIMENT = "experiment_id"  # the request's experiment_id field (default "0")
    EXPERIMENTS = "experiment_ids"  # each of the request's experiment_ids
    RUN = "run_id"  # the experiment of the request's run_id
    RUNS = "run_ids"  # the experiments of each of the request's run_ids
    ANSWER = "answer"  # the experiment in the answer (get-by-name): checked afterwards
    SELF = "username"  # the request's username must be the caller's own (users/get)
    RESOURCE = "resource_id"  # MLflow 3's per-user permissions: the experiment's id


class After(Enum):
    """What happens to the answer."""

    NOTHING = "nothing"
    FILTER_EXPERIMENTS = "filter"  # drop experiments the caller may not read
    GRANT_CREATOR = "grant"  # the creator of a new experiment gets MANAGE


@dataclass(frozen=True)
class Rule:
    needs: Permission
    target: Target
    after: After = After.NOTHING


_ANY = Rule(Permission.NO_PERMISSIONS, Target.NONE)
_READ_EXP = Rule(Permission.READ, Target.EXPERIMENT)
_EDIT_EXP = Rule(Permission.EDIT, Target.EXPERIMENT)
_MANAGE_EXP = Rule(Permission.MANAGE, Target.EXPERIMENT)
_READ_RUN = Rule(Permission.READ, Target.RUN)
_EDIT_RUN = Rule(Permission.EDIT, Target.RUN)
_MANAGE_RUN = Rule(Permission.MANAGE, Target.RUN)
_FILTERED = Rule(Permission.NO_PERMISSIONS, Target.NONE, After.FILTER_EXPERIMENTS)
_SELF = Rule(Permission.NO_PERMISSIONS, Target.SELF)

# Admins only; also what an endpoint missing from the table gets.
ADMIN_ONLY = Rule(Permission.MANAGE, Target.NONE)

RULES: dict[str, Rule] = {
    # MLflow's API (as MLflow's basic-auth app: update needs EDIT, delete/restore MANAGE).
    "mlflow/experiments/create": Rule(Permission.NO_PERMISSIONS, Target.NONE, After.GRANT_CREATOR),
    "mlflow/experiments/get": _READ_EXP,
    "mlflow/experiments/get-by-name": Rule(Permission.READ, Target.ANSWER),
    "mlflow/experiments/search": _FILTERED,
    "mlflow/experiments/delete": _MANAGE_EXP,
    "mlflow/experiments/restore": _MANAGE_EXP,
    "mlflow/experiments/update": _EDIT_EXP,
    "mlflow/experiments/set-experiment-tag": _EDIT_EXP,
    "mlflow/experiments/delete-experiment-tag": _EDIT_EXP,
    "mlflow/runs/create": _EDIT_EXP,
    "mlflow/runs/get": _READ_RUN,
    "mlflow/artifacts/list": _READ_RUN,
    "mlflow/runs/update": _EDIT_RUN,
    "mlflow/runs/delete": _MANAGE_RUN,
    "mlflow/runs/restore": _MANAGE_RUN,
    "mlflow/runs/search": Rule(Permission.READ, Target.EXPERIMENTS),
    "mlflow/runs/log-metric": _EDIT_RUN,
    "mlflow/runs/log-parameter": _EDIT_RUN,
    "mlflow/runs/set-tag": _EDIT_RUN,
    "mlflow/runs/delete-tag": _EDIT_RUN,
    "mlflow/runs/log-batch": _EDIT_RUN,
    "mlflow/runs/log-inputs": _EDIT_RUN,
    "mlflow/metrics/get-history": _READ_RUN,
    "mlflow/metrics/get-history-bulk-interval": Rule(Permission.READ, Target.RUNS),
    "mlflow/logged-models/search": Rule(Permission.READ, Target.EXPERIMENTS),
    # MLflow's auth API (users and experiment permissions), as its basic-auth app decides:
    # a user may read themself and change their own password; creating and deleting users
    # and changing who is admin is for admins; an experiment's permissions are for those who
    # may MANAGE it. Registered models (runstack has none) are answered with a 400 to all.
    "mlflow/users/create": ADMIN_ONLY,
    "mlflow/users/get": _SELF,
    "mlflow/users/update-password": _SELF,
    "mlflow/users/update-admin": ADMIN_ONLY,
    "mlflow/users/delete": ADMIN_ONLY,
    "mlflow/experiments/permissions/create": _MANAGE_EXP,
    "mlflow/experiments/permissions/get": _MANAGE_EXP,
    "mlflow/experiments/permissions/update": _MANAGE_EXP,
    "mlflow/experiments/permissions/delete": _MANAGE_EXP,
    # MLflow 3's per-user permissions (/api/3.0/), the form MLflow 3's AuthServiceClient
    # uses: granting and revoking need MANAGE on the experiment; reading is for oneself.
    "mlflow/users/permissions/grant": Rule(Permission.MANAGE, Target.RESOURCE),
    "mlflow/users/permissions/revoke": Rule(Permission.MANAGE, Target.RESOURCE),
    "mlflow/users/permissions/get": _SELF,
    "mlflow/registered-models/permissions/create": _ANY,
    "mlflow/registered-models/permissions/get": _ANY,
    "mlflow/registered-models/permissions/update": _ANY,
    "mlflow/registered-models/permissions/delete": _ANY,
    # runstack's own endpoints.
    "runstack/server-info": _ANY,
    "runstack/runs/create": _EDIT_EXP,
    "runstack/runs/resume": _EDIT_RUN,
    "runstack/runs/renew-heartbeats": Rule(Permission.EDIT, Target.RUNS),
    "runstack/runs/log-batch": _EDIT_RUN,
    # The web UI's reads.
    "runstack/ui/config": _ANY,
    "runstack/ui/experiments": _FILTERED,
    "runstack/ui/experiments/keys": _READ_EXP,
    "runstack/ui/runs/table": Rule(Permission.READ, Target.EXPERIMENTS),
    "runstack/ui/runs/detail": _READ_RUN,
    "runstack/ui/metrics/series": _READ_RUN,
    "runstack/ui/artifacts/list": _READ_RUN,
    "runstack/ui/artifacts/get": _READ_RUN,
}


# The artifact proxy (``mlflow-artifacts/artifacts/<experiment id>/<run id>/...``), by method:
# as MLflow's basic-auth app, reading needs READ, writing EDIT and deleting MANAGE on the
# experiment named by the path's first segment; paths outside an experiment are for admins.
ARTIFACT_METHODS: dict[str, Permission] = {
    "GET": Permission.READ,
    "HEAD": Permission.READ,
    "PUT": Permission.EDIT,
    "POST": Permission.EDIT,
    "DELETE": Permission.MANAGE,
}


def artifact_experiment(relative_path: str) -> str | None:
    """The experiment id an artifact path lies under (None: outside any experiment)."""
    first = relative_path.strip("/").split("/", 1)[0]
    return first if first.isascii() and first.isdigit() and len(first) <= 18 else None


def rule_for(path: str) -> Rule | None:
    """The rule of an endpoint path relative to ``/api/2.0/`` (None: admins only)."""
    return RULES.get(path)
