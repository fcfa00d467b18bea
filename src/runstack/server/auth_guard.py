"""Authentication and permissions on the API (``runstack server --auth``; docs/security.md).

``authenticate`` turns a request's ``Authorization`` header into a user (401 otherwise);
``check`` refuses (403) a request whose user lacks the permission its endpoint needs
(runstack.auth.policy) on the experiment it acts on; ``after`` drops experiments the user may
not read from search answers and gives the creator of a new experiment MANAGE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runstack import settings
from runstack.auth.access import Access
from runstack.auth.authenticator import Authenticator, CredentialCache
from runstack.auth.permissions import Permission
from runstack.auth.policy import (
    ADMIN_ONLY,
    ARTIFACT_METHODS,
    After,
    Rule,
    Target,
    artifact_experiment,
    rule_for,
)
from runstack.auth.store import AuthStore, User
from runstack.errors import ApiError
from runstack.server.endpoints import Endpoint

_API_ROOTS = ("/api/2.0/", "/api/3.0/")


@dataclass(frozen=True)
class AuthSettings:
    """How the server authenticates (``runstack server --auth``)."""

    # What a user may do in an experiment where they have no grant.
    default_permission: Permission = Permission.READ
    # Seconds a verified credential is trusted without checking again.
    cache_ttl_s: float = 60.0
    # Seconds a user's grants are trusted without reading them again.
    grants_ttl_s: float = 10.0

    @classmethod
    def from_environment(cls) -> AuthSettings | None:
        """The settings ``runstack server`` exported, or None when auth is off."""
        if not settings.SERVER_AUTH.read():
            return None
        default = settings.SERVER_AUTH_DEFAULT_PERMISSION.read() or "READ"
        return cls(default_permission=Permission[default])

    def export(self) -> None:
        settings.SERVER_AUTH.export("true")
        settings.SERVER_AUTH_DEFAULT_PERMISSION.export(self.default_permission.name)


def policy_path(full_path: str) -> str:
    """The key of an endpoint in ``policy.RULES``: its path below ``/api/<version>/``."""
    for root in _API_ROOTS:
        if full_path.startswith(root):
            return full_path.removeprefix(root)
    return full_path


def _denied(endpoint: Endpoint, needs: Permission, experiment_id: str | None) -> ApiError:
    where = f" on experiment {experiment_id}" if experiment_id is not None else ""
    return ApiError(
        f"Permission denied: {endpoint.full_path} needs {needs.name}{where}; ask an admin "
        "or the experiment's manager to grant it (runstack users grant).",
        "PERMISSION_DENIED",
        403,
    )


def _ids(value: Any) -> list[str]:
    """The well-formed ids of a field (malformed ones are the handler's 400 to give)."""
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, str) and v]


class AuthGuard:
    def __init__(self, store: AuthStore, auth_settings: AuthSettings) -> None:
        """Over ``store`` (normally on the server's own store's connections; see app.py)."""
        self.store = store
        self.authenticator = Authenticator(self.store, CredentialCache(auth_settings.cache_ttl_s))
        self.access = Access(
            self.store, auth_settings.default_permission, auth_settings.grants_ttl_s
        )

    def cached_user(self, header: bytes | None) -> User | None:
        """The user of a recently verified header, without blocking (None: verify it)."""
        return self.authenticator.cached(header)

    def authenticate(self, header: bytes | None, client: str) -> User:
        """Verify the header (blocks: database and scrypt); 401 or 429 when it fails."""
        return self.authenticator.authenticate(header, client)

    def forget_user(self, username: str) -> None:
        """Drop this process's cached credentials and grants of ``username`` (their password,
        admin flag, existence or grants changed here): the next request reads them anew."""
        self.authenticator.cache.forget_user(username)
        self.access.forget(username)

    def _rule(self, endpoint: Endpoint) -> Rule:
        rule = rule_for(policy_path(endpoint.full_path))
        return ADMIN_ONLY if rule is None else rule

    def check(self, user: User, endpoint: Endpoint, args: dict[str, Any]) -> None:
        """Refuse (403) unless ``user`` holds what ``endpoint`` needs for these ``args``."""
        if user.is_admin:
            return
        rule = self._rule(endpoint)
        if rule is ADMIN_ONLY:
            raise ApiError(
                f"Permission denied: {endpoint.full_path} is for admins only.",
                "PERMISSION_DENIED",
                403,
            )
        target = rule.target
        if target in (Target.NONE, Target.ANSWER):
            return
        if target is Target.SELF:
            if args.get(target.value) != user.username:
                raise ApiError(
                    f"Permission denied: {endpoint.full_path} for another user is for admins "
                    "only; a user may use it for themself.",
                    "PERMISSION_DENIED",
                    403,
                )
            return
        if target in (Target.EXPERIMENT, Target.EXPERIMENTS, Target.RESOURCE):
            raw = args.get(target.value)
            experiment_ids = ["0"] if raw is None and target is Target.EXPERIMENT else _ids(raw)
        else:
            experiment_ids = list(
                self.access.run_experiments(_ids(args.get(target.value))).values()
            )
        for experiment_id in experiment_ids:
            if not self.access.permission(user, experiment_id).allows(rule.needs):
                raise _denied(endpoint, rule.needs, experiment_id)

    def after(self, user: User, endpoint: Endpoint, body: dict[str, Any]) -> dict[str, Any]:
        """The answer as ``user`` may see it (and the creator's grant on a new experiment)."""
        rule = self._rule(endpoint)
        if rule.after is After.GRANT_CREATOR:
            experiment_id = body.get("experiment_id")
            if isinstance(experiment_id, str):
                self.store.grant(experiment_id, user.username, Permission.MANAGE)
                self.access.forget(user.username)
        if user.is_admin:
            return body
        if rule.target is Target.ANSWER:
            experiment_id = body.get("experiment", {}).get("experiment_id")
            if not self.access.permission(user, str(experiment_id)).allows(rule.needs):
                raise _denied(endpoint, rule.needs, str(experiment_id))
        if rule.after is After.FILTER_EXPERIMENTS:
            body = dict(body)
            body["experiments"] = [
                e
                for e in body.get("experiments", [])
                if self.access.permission(user, str(e.get("experiment_id"))).allows(Permission.READ)
            ]
        return body

    def check_artifact(self, user: User, method: str, relative_path: str) -> None:
        """Refuse (403) an artifact request outside what ``user`` may do in the experiment the
        path lies under (``relative_path``: below ``mlflow-artifacts/artifacts/``)."""
        if user.is_admin:
            return
        needs = ARTIFACT_METHODS.get(method, Permission.MANAGE)
        experiment_id = artifact_experiment(relative_path)
        if experiment_id is None:
            raise ApiError(
                f"Permission denied: {method} of artifacts outside an experiment "
                f"({relative_path or '/'!r}) is for admins only.",
                "PERMISSION_DENIED",
                403,
            )
        if not self.access.permission(user, experiment_id).allows(needs):
            raise ApiError(
                f"Permission denied: {method} of artifacts needs {needs.name} on experiment "
                f"{experiment_id}.",
                "PERMISSION_DENIED",
                403,
            )
