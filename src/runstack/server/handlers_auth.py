"""MLflow's auth REST API (users and experiment permissions), so that MLflow's own
``AuthServiceClient`` (``mlflow.server.get_app_client("basic-auth", ...)``) manages the users
of ``runstack server --auth``.

Paths, methods, request fields and answers are MLflow's basic-auth app's: the user endpoints
and ``experiments/permissions/...`` under /api/2.0/, and MLflow 3's per-user permissions
(``users/permissions/grant``, ``revoke``, ``get``; what MLflow 3.17's client calls) under
/api/3.0/. Registered-model permissions are a 400 (no model registry). Who may call what
is in ``runstack.auth.policy`` like every other endpoint; these handlers only do the change
and drop this process's cached credentials and grants of the user it touched, so that a
changed password, a deleted user or a revoked grant takes effect here at once (other
processes: within their cache times, docs/security.md). runstack keys users by username and
has no numeric user id: ``id`` and ``user_id`` carry the username.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runstack.auth.permissions import Permission
from runstack.auth.store import AuthStore
from runstack.errors import ApiError, InvalidParameterError, ResourceNotFoundError
from runstack.server.auth_guard import AuthGuard
from runstack.server.endpoints import CALLER, GET, MLFLOW_V3_PREFIX, Endpoint, Handler
from runstack.server.fields import BOOL, STRING, Field
from runstack.store.base import Store

POST = ("POST",)
PATCH = ("PATCH",)
DELETE = ("DELETE",)

_USERNAME = Field("username", STRING, required=True, doc="The user's name.")
_PASSWORD = Field("password", STRING, required=True, doc="The new password (8 to 1024 chars).")
_EXPERIMENT = Field("experiment_id", STRING, required=True, doc="The experiment's id.")
_PERMISSION = Field(
    "permission", STRING, required=True, doc="READ, EDIT, MANAGE or NO_PERMISSIONS."
)
_MODEL = Field("name", STRING, required=True, doc="The registered model's name.")


def auth_not_enabled() -> ApiError:
    return ApiError(
        "Authentication is not enabled on this server (start it with --auth), so it has no "
        "users or permissions to manage.",
        "BAD_REQUEST",
        400,
    )


def _no_model_registry() -> ApiError:
    return ApiError(
        "runstack has no model registry, so there are no registered-model permissions; "
        "grant permissions on experiments (experiments/permissions/...) instead.",
        "BAD_REQUEST",
        400,
    )


def _permission(value: str) -> Permission:
    """The permission named exactly ``value`` (as MLflow: upper case, no spaces)."""
    if value not in Permission.__members__:
        names = ", ".join(p.name for p in Permission)
        raise InvalidParameterError(
            f"Invalid value {value!r} for parameter 'permission': use one of {names}."
        )
    return Permission[value]


def _grant_json(experiment_id: str, username: str, permission: Permission) -> dict[str, Any]:
    return {"experiment_id": experiment_id, "user_id": username, "permission": permission.name}


class AuthApi:
    """The handlers, over one server process's guard (its store and caches)."""

    def __init__(self, guard: AuthGuard) -> None:
        self.guard = guard

    @property
    def store(self) -> AuthStore:
        return self.guard.store

    def _user_json(self, username: str) -> dict[str, Any]:
        user = self.store.get_user(username)
        if user is None:
            raise ResourceNotFoundError(f"No user {username!r}.")
        grants = self.store.grants(username)
        return {
            "id": user.username,
            "username": user.username,
            "is_admin": user.is_admin,
            "experiment_permissions": [
                _grant_json(e, username, p) for e, p in sorted(grants.items())
            ],
            "registered_model_permissions": [],
        }

    def create_user(self, args: dict[str, Any]) -> dict[str, Any]:
        username = args["username"]
        self.store.create_user(username, args["password"])
        return {"user": self._user_json(username)}

    def get_user(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"user": self._user_json(args["username"])}

    def update_password(self, args: dict[str, Any]) -> dict[str, Any]:
        username, password = args["username"], args["password"]
        if args[CALLER] == username:
            # As MLflow 3: one's own password only with the current one (a borrowed
            # session cannot change it); an admin changing another's needs none.
            current = args.get("current_password")
            if not current:
                raise InvalidParameterError(
                    "Changing your own password needs 'current_password' (your present "
                    "password) too."
                )
            if self.store.verify_password(username, current) is None:
                raise InvalidParameterError("'current_password' is not your present password.")
            if password == current:
                raise InvalidParameterError(
                    "The new password must differ from the current password."
                )
        self.store.set_password(username, password)
        self.guard.forget_user(args["username"])
        return {}

    def update_admin(self, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("is_admin") is None:
            raise InvalidParameterError("Missing value for required parameter 'is_admin'.")
        self.store.set_admin(args["username"], args["is_admin"])
        self.guard.forget_user(args["username"])
        return {}

    def delete_user(self, args: dict[str, Any]) -> dict[str, Any]:
        if args[CALLER] == args["username"]:
            raise ApiError(
                "You cannot delete your own account (you would lock yourself out); ask "
                "another admin, or use `runstack users delete` on the server.",
                "BAD_REQUEST",
                400,
            )
        self.store.delete_user(args["username"])
        self.guard.forget_user(args["username"])
        return {}

    def create_permission(self, args: dict[str, Any]) -> dict[str, Any]:
        experiment_id, username = args["experiment_id"], args["username"]
        permission = _permission(args["permission"])
        self.store.grant(experiment_id, username, permission, existing=False)
        self.guard.forget_user(username)
        return {"experiment_permission": _grant_json(experiment_id, username, permission)}

    def get_permission(self, args: dict[str, Any]) -> dict[str, Any]:
        experiment_id, username = args["experiment_id"], args["username"]
        if self.store.get_user(username) is None:
            raise ResourceNotFoundError(f"No user {username!r}.")
        permission = self.store.permission(experiment_id, username)
        if permission is None:
            raise ResourceNotFoundError(
                f"User {username!r} has no permission on experiment {experiment_id} (the "
                "server's default permission applies)."
            )
        return {"experiment_permission": _grant_json(experiment_id, username, permission)}

    def update_permission(self, args: dict[str, Any]) -> dict[str, Any]:
        username = args["username"]
        permission = _permission(args["permission"])
        self.store.grant(args["experiment_id"], username, permission, existing=True)
        self.guard.forget_user(username)
        return {}

    def delete_permission(self, args: dict[str, Any]) -> dict[str, Any]:
        username = args["username"]
        self.store.revoke(args["experiment_id"], username)
        self.guard.forget_user(username)
        return {}

    # -- MLflow 3's per-user permissions (resource_type "experiment" only) --------------

    def grant(self, args: dict[str, Any]) -> dict[str, Any]:
        experiment_id = _experiment_resource(args)
        permission = _permission(args["permission"])
        self.store.grant(experiment_id, args["username"], permission, existing=False)
        self.guard.forget_user(args["username"])
        return {}

    def revoke(self, args: dict[str, Any]) -> dict[str, Any]:
        experiment_id = _experiment_resource(args)
        if self.store.get_user(args["username"]) is None:
            raise ResourceNotFoundError(f"No user {args['username']!r}.")
        self.store.revoke(experiment_id, args["username"])
        self.guard.forget_user(args["username"])
        return {}

    def effective(self, args: dict[str, Any]) -> dict[str, Any]:
        """What the user may do in the experiment, as the server decides it: admin, else
        their grant, else the default. ``allowed``: may change it (EDIT or more), as MLflow's
        ``can_use``."""
        experiment_id = _experiment_resource(args)
        user = self.store.get_user(args["username"])
        if user is None:
            raise ResourceNotFoundError(f"No user {args['username']!r}.")
        grant = self.store.permission(experiment_id, user.username)
        if user.is_admin:
            permission = Permission.MANAGE
        else:
            permission = self.guard.access.default if grant is None else grant
        return {"allowed": permission.allows(Permission.EDIT), "permission": permission.name}


def _experiment_resource(args: dict[str, Any]) -> str:
    """The experiment id of a per-user permission request (runstack has no other kind)."""
    kind = args["resource_type"]
    if kind != "experiment":
        registry = " (runstack has no model registry)" if "model" in kind else ""
        raise InvalidParameterError(
            f"Invalid value {kind!r} for parameter 'resource_type': runstack has permissions "
            f"on experiments only, use 'experiment'{registry}."
        )
    return str(args["resource_id"])


def _handler(api: AuthApi | None, name: str) -> Handler:
    """The handler ``name`` of ``api``; without auth, one refusing every call."""

    def handle(store: Store, args: dict[str, Any]) -> dict[str, Any]:
        if api is None:
            raise auth_not_enabled()
        method: Callable[[dict[str, Any]], dict[str, Any]] = getattr(api, name)
        return method(args)

    return handle


def _refuse_models(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    raise _no_model_registry()


def auth_endpoints(guard: AuthGuard | None) -> tuple[Endpoint, ...]:
    """The endpoints as one server serves them: over ``guard`` with --auth; without it
    (``None``), each answers a 400 saying authentication is off."""
    api = None if guard is None else AuthApi(guard)
    grant = (_EXPERIMENT, _USERNAME)
    endpoints = [
        Endpoint(
            "users/create",
            POST,
            (_USERNAME, _PASSWORD),
            _handler(api, "create_user"),
            "Create a user (admins).",
            "{user}",
        ),
        Endpoint(
            "users/get",
            GET,
            (_USERNAME,),
            _handler(api, "get_user"),
            "A user with their experiment permissions (admins, or the user themself).",
            "{user: {id, username, is_admin, experiment_permissions, "
            "registered_model_permissions}}",
        ),
        Endpoint(
            "users/update-password",
            PATCH,
            (
                _USERNAME,
                _PASSWORD,
                Field(
                    "current_password",
                    STRING,
                    doc="The present password: needed to change one's own.",
                ),
            ),
            _handler(api, "update_password"),
            "Change a user's password (admins, or the user themself with current_password).",
            "{}",
            caller=True,
        ),
        Endpoint(
            "users/update-admin",
            PATCH,
            (_USERNAME, Field("is_admin", BOOL, required=True, doc="Whether an admin.")),
            _handler(api, "update_admin"),
            "Make a user an admin or not (admins).",
            "{}",
        ),
        Endpoint(
            "users/delete",
            DELETE,
            (_USERNAME,),
            _handler(api, "delete_user"),
            "Delete a user with their tokens and permissions (admins; not oneself).",
            "{}",
            caller=True,
        ),
        Endpoint(
            "experiments/permissions/create",
            POST,
            (*grant, _PERMISSION),
            _handler(api, "create_permission"),
            "Grant a user a permission on an experiment (MANAGE on it, or admins).",
            "{experiment_permission: {experiment_id, user_id, permission}}",
        ),
        Endpoint(
            "experiments/permissions/get",
            GET,
            grant,
            _handler(api, "get_permission"),
            "A user's permission on an experiment (MANAGE on it, or admins).",
            "{experiment_permission: {experiment_id, user_id, permission}}",
        ),
        Endpoint(
            "experiments/permissions/update",
            PATCH,
            (*grant, _PERMISSION),
            _handler(api, "update_permission"),
            "Change a user's permission on an experiment (MANAGE on it, or admins).",
            "{}",
        ),
        Endpoint(
            "experiments/permissions/delete",
            DELETE,
            grant,
            _handler(api, "delete_permission"),
            "Remove a user's permission on an experiment (MANAGE on it, or admins).",
            "{}",
        ),
    ]
    resource = (
        _USERNAME,
        Field("resource_type", STRING, required=True, doc="Always 'experiment' here."),
        Field("resource_id", STRING, required=True, doc="The experiment's id."),
    )
    for path, methods, fields, name, summary, response in (
        (
            "users/permissions/grant",
            POST,
            (*resource, _PERMISSION),
            "grant",
            "Grant a user a permission on an experiment (MANAGE on it, or admins).",
            "{}",
        ),
        (
            "users/permissions/revoke",
            POST,
            resource,
            "revoke",
            "Remove a user's permission on an experiment (MANAGE on it, or admins).",
            "{}",
        ),
        (
            "users/permissions/get",
            GET,
            resource,
            "effective",
            "What a user may do in an experiment (admins, or the user themself).",
            "{allowed, permission}",
        ),
    ):
        endpoints.append(
            Endpoint(
                path, methods, fields, _handler(api, name), summary, response, MLFLOW_V3_PREFIX
            )
        )
    for action, methods in (
        ("create", POST),
        ("get", GET),
        ("update", PATCH),
        ("delete", DELETE),
    ):
        endpoints.append(
            Endpoint(
                f"registered-models/permissions/{action}",
                methods,
                (_MODEL, _USERNAME, *(() if action in ("get", "delete") else (_PERMISSION,))),
                _refuse_models,
                "Always a 400: runstack has no model registry.",
                "never answered",
            )
        )
    return tuple(endpoints)


ENDPOINTS = auth_endpoints(None)
