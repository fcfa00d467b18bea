"""MLflow's auth REST API on ``runstack server --auth`` (users and experiment permissions), on
SQLite and PostgreSQL over a real socket: each endpoint's answers and errors, who may call
what, changes taking effect in the server process at once, and MLflow's own
``AuthServiceClient`` driving it (from a venv with full MLflow, when one is present)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runstack.auth.permissions import Permission
from runstack.auth.store import AuthStore
from runstack.server.background import BackgroundServer
from test_auth_server import ADMIN, auth_server, basic

# Every test here starts a server with --auth and signs users in: seconds each.
pytestmark = pytest.mark.slow

API = "/api/2.0/mlflow/"
API_V3 = "/api/3.0/mlflow/"  # MLflow 3's per-user permissions
# The Python that runs MLflow's own auth client: this test venv (mlflow-skinny plus Flask,
# Flask-WTF and aiohttp, which mlflow.server.auth.client imports), or another one given here.
MLFLOW_AUTH_PYTHON = Path(os.environ.get("RUNSTACK_TEST_MLFLOW_AUTH_PYTHON", sys.executable))


@pytest.fixture
def served(
    store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, AuthStore]]:
    """A --auth server whose caches would hide a change for a minute (credentials) and ten
    seconds (grants): what the tests see at once was dropped by the change itself."""
    monkeypatch.setenv("RUNSTACK_SERVER_ARTIFACTS_DESTINATION", str(tmp_path / "artifacts"))
    auth = AuthStore.open(store_uri)
    auth.create_user(*ADMIN, is_admin=True)
    try:
        with auth_server(store_uri, grants_ttl_s=10.0) as url:
            yield url, auth
    finally:
        auth.close()


def call(
    url: str,
    method: str,
    path: str,
    body: dict[str, Any],
    who: tuple[str, str] = ADMIN,
) -> httpx.Response:
    headers = basic(*who)
    root = API_V3 if path.startswith("users/permissions/") else API
    if method == "GET":
        return httpx.get(url + root + path, params=body, headers=headers)
    return httpx.request(method, url + root + path, json=body, headers=headers)


def error(answer: httpx.Response, status: int, code: str) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error_code"] == code, body
    return str(body["message"])


def new_experiment(url: str, name: str) -> str:
    made = call(url, "POST", "experiments/create", {"name": name})
    assert made.status_code == 200, made.text
    return str(made.json()["experiment_id"])


def test_users_create_get_update_delete(served: tuple[str, AuthStore]) -> None:
    url, auth = served
    made = call(url, "POST", "users/create", {"username": "ada", "password": "first pass"})
    assert made.status_code == 200, made.text
    assert made.json() == {
        "user": {
            "id": "ada",
            "username": "ada",
            "is_admin": False,
            "experiment_permissions": [],
            "registered_model_permissions": [],
        }
    }
    again = call(url, "POST", "users/create", {"username": "ada", "password": "other pass"})
    assert "'ada' already exists" in error(again, 400, "RESOURCE_ALREADY_EXISTS")
    assert auth.verify_password("ada", "first pass") is not None  # unchanged

    bad_name = call(url, "POST", "users/create", {"username": "-x y", "password": "long enough"})
    assert "'-x y'" in error(bad_name, 400, "INVALID_PARAMETER_VALUE")
    short = call(url, "POST", "users/create", {"username": "bob", "password": "short"})
    assert "8 to 1024 characters" in error(short, 400, "INVALID_PARAMETER_VALUE")
    missing = call(url, "POST", "users/create", {"username": "bob"})
    assert "'password'" in error(missing, 400, "INVALID_PARAMETER_VALUE")
    assert auth.get_user("bob") is None and auth.get_user("-x y") is None  # nothing written

    e = new_experiment(url, "for ada")
    auth.grant(e, "ada", Permission.EDIT)
    got = call(url, "GET", "users/get", {"username": "ada"}).json()["user"]
    assert got["experiment_permissions"] == [
        {"experiment_id": e, "user_id": "ada", "permission": "EDIT"}
    ]
    unknown = call(url, "GET", "users/get", {"username": "nobody"})
    assert "'nobody'" in error(unknown, 404, "RESOURCE_DOES_NOT_EXIST")

    promoted = call(url, "PATCH", "users/update-admin", {"username": "ada", "is_admin": True})
    assert promoted.status_code == 200 and promoted.json() == {}
    assert call(url, "GET", "users/get", {"username": "ada"}).json()["user"]["is_admin"] is True
    not_bool = call(url, "PATCH", "users/update-admin", {"username": "ada", "is_admin": "yes"})
    error(not_bool, 400, "INVALID_PARAMETER_VALUE")
    gone = call(url, "PATCH", "users/update-admin", {"username": "nobody", "is_admin": True})
    error(gone, 404, "RESOURCE_DOES_NOT_EXIST")

    deleted = call(url, "DELETE", "users/delete", {"username": "ada"})
    assert deleted.status_code == 200 and deleted.json() == {}
    assert auth.get_user("ada") is None and auth.grants("ada") == {}
    twice = call(url, "DELETE", "users/delete", {"username": "ada"})
    error(twice, 404, "RESOURCE_DOES_NOT_EXIST")


def test_changes_take_effect_at_once_in_the_server(served: tuple[str, AuthStore]) -> None:
    """The server caches verified credentials for a minute: a change through the API drops
    that user's entries, so the old password, a lost admin flag or a deleted user stop
    working with the very next request."""
    url, auth = served
    auth.create_user("cy", "old password")
    me = ("cy", "old password")
    assert call(url, "GET", "users/get", {"username": "cy"}, me).status_code == 200  # cached
    change = {"username": "cy", "password": "new password"}
    # One's own password only with the present one, as MLflow 3.
    refused = call(url, "PATCH", "users/update-password", change, me)
    assert "'current_password'" in error(refused, 400, "INVALID_PARAMETER_VALUE")
    wrong = call(
        url, "PATCH", "users/update-password", {**change, "current_password": "guess 123"}, me
    )
    assert "not your present password" in error(wrong, 400, "INVALID_PARAMETER_VALUE")
    same = {"username": "cy", "password": "old password", "current_password": "old password"}
    error(call(url, "PATCH", "users/update-password", same, me), 400, "INVALID_PARAMETER_VALUE")
    assert call(url, "GET", "users/get", {"username": "cy"}, me).status_code == 200  # unchanged
    changed = call(
        url, "PATCH", "users/update-password", {**change, "current_password": "old password"}, me
    )
    assert changed.status_code == 200, changed.text
    error(call(url, "GET", "users/get", {"username": "cy"}, me), 401, "UNAUTHENTICATED")
    me = ("cy", "new password")
    assert call(url, "GET", "users/get", {"username": "cy"}, me).status_code == 200
    bad = call(
        url,
        "PATCH",
        "users/update-password",
        {"username": "cy", "password": "x", "current_password": "new password"},
        me,
    )
    error(bad, 400, "INVALID_PARAMETER_VALUE")
    assert call(url, "GET", "users/get", {"username": "cy"}, me).status_code == 200  # unchanged

    call(url, "PATCH", "users/update-admin", {"username": "cy", "is_admin": True})
    assert call(url, "GET", "users/get", {"username": "admin"}, me).status_code == 200
    call(url, "PATCH", "users/update-admin", {"username": "cy", "is_admin": False})
    error(call(url, "GET", "users/get", {"username": "admin"}, me), 403, "PERMISSION_DENIED")

    # An admin changes another's password without the present one.
    reset = call(url, "PATCH", "users/update-password", {"username": "cy", "password": "third one"})
    assert reset.status_code == 200, reset.text
    error(call(url, "GET", "users/get", {"username": "cy"}, me), 401, "UNAUTHENTICATED")
    me = ("cy", "third one")
    assert call(url, "GET", "users/get", {"username": "cy"}, me).status_code == 200

    call(url, "DELETE", "users/delete", {"username": "cy"})
    error(call(url, "GET", "users/get", {"username": "cy"}, me), 401, "UNAUTHENTICATED")
    # No admin deletes themself (they would lock themselves out), as MLflow 3.
    self_delete = call(url, "DELETE", "users/delete", {"username": "admin"})
    assert "your own account" in error(self_delete, 400, "BAD_REQUEST")


def test_experiment_permissions(served: tuple[str, AuthStore]) -> None:
    url, auth = served
    auth.create_user("dee", "dee password")
    dee = ("dee", "dee password")
    e = new_experiment(url, "shared")
    run_id = call(url, "POST", "runs/create", {"experiment_id": e}).json()["run"]["info"]["run_id"]
    metric = {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, "step": 0}

    def log() -> int:
        return call(url, "POST", "runs/log-metric", metric, dee).status_code

    assert log() == 403  # NO_PERMISSIONS by default; the answer is cached for 10 s
    grant = {"experiment_id": e, "username": "dee", "permission": "READ"}
    made = call(url, "POST", "experiments/permissions/create", grant)
    assert made.status_code == 200, made.text
    assert made.json() == {
        "experiment_permission": {"experiment_id": e, "user_id": "dee", "permission": "READ"}
    }
    assert log() == 403
    again = call(url, "POST", "experiments/permissions/create", {**grant, "permission": "EDIT"})
    error(again, 400, "RESOURCE_ALREADY_EXISTS")
    assert auth.permission(e, "dee") is Permission.READ  # unchanged

    update = {"experiment_id": e, "username": "dee", "permission": "EDIT"}
    assert call(url, "PATCH", "experiments/permissions/update", update).status_code == 200
    assert log() == 200  # at once, though grants are cached for 10 s
    got = call(url, "GET", "experiments/permissions/get", {"experiment_id": e, "username": "dee"})
    assert got.json()["experiment_permission"]["permission"] == "EDIT"

    bad = call(url, "PATCH", "experiments/permissions/update", {**update, "permission": "OWN"})
    message = error(bad, 400, "INVALID_PARAMETER_VALUE")
    assert "'OWN'" in message and "NO_PERMISSIONS, READ, EDIT, MANAGE" in message
    bad_id = call(url, "POST", "experiments/permissions/create", {**grant, "experiment_id": "x"})
    assert "'x'" in error(bad_id, 400, "INVALID_PARAMETER_VALUE")
    no_exp = call(url, "POST", "experiments/permissions/create", {**grant, "experiment_id": "999"})
    assert "999" in error(no_exp, 404, "RESOURCE_DOES_NOT_EXIST")
    no_user = call(url, "POST", "experiments/permissions/create", {**grant, "username": "zed"})
    assert "'zed'" in error(no_user, 404, "RESOURCE_DOES_NOT_EXIST")
    assert auth.permission(e, "dee") is Permission.EDIT  # none of that changed anything

    removed = call(
        url, "DELETE", "experiments/permissions/delete", {"experiment_id": e, "username": "dee"}
    )
    assert removed.status_code == 200 and removed.json() == {}
    assert log() == 403  # at once
    for method, path in (
        ("GET", "experiments/permissions/get"),
        ("DELETE", "experiments/permissions/delete"),
        ("PATCH", "experiments/permissions/update"),
    ):
        answer = call(url, method, path, update)
        error(answer, 404, "RESOURCE_DOES_NOT_EXIST")


def test_mlflow_3_per_user_permissions(served: tuple[str, AuthStore]) -> None:
    url, auth = served
    auth.create_user("fay", "fay password")
    e = new_experiment(url, "for fay")
    target = {"username": "fay", "resource_type": "experiment", "resource_id": e}
    granted = call(url, "POST", "users/permissions/grant", {**target, "permission": "READ"})
    assert granted.status_code == 200 and granted.json() == {}
    again = call(url, "POST", "users/permissions/grant", {**target, "permission": "EDIT"})
    error(again, 400, "RESOURCE_ALREADY_EXISTS")
    got = call(url, "GET", "users/permissions/get", target, ("fay", "fay password"))
    assert got.json() == {"allowed": False, "permission": "READ"}
    mine = call(url, "GET", "users/permissions/get", {**target, "username": "admin"})
    assert mine.json() == {"allowed": True, "permission": "MANAGE"}

    model = call(
        url,
        "POST",
        "users/permissions/grant",
        {**target, "resource_type": "registered_model", "permission": "READ"},
    )
    assert "no model registry" in error(model, 400, "INVALID_PARAMETER_VALUE")
    wild = call(
        url, "POST", "users/permissions/grant", {**target, "resource_id": "*", "permission": "READ"}
    )
    assert "'*'" in error(wild, 400, "INVALID_PARAMETER_VALUE")
    bad = call(url, "POST", "users/permissions/grant", {**target, "permission": "ALL"})
    assert "'ALL'" in error(bad, 400, "INVALID_PARAMETER_VALUE")
    nobody = call(url, "POST", "users/permissions/revoke", {**target, "username": "nobody"})
    error(nobody, 404, "RESOURCE_DOES_NOT_EXIST")
    no_exp = call(
        url,
        "POST",
        "users/permissions/grant",
        {**target, "resource_id": "999", "permission": "READ"},
    )
    error(no_exp, 404, "RESOURCE_DOES_NOT_EXIST")
    assert auth.grants("fay") == {e: Permission.READ}  # none of that changed anything

    revoked = call(url, "POST", "users/permissions/revoke", target)
    assert revoked.status_code == 200 and revoked.json() == {}
    error(call(url, "POST", "users/permissions/revoke", target), 404, "RESOURCE_DOES_NOT_EXIST")
    after = call(url, "GET", "users/permissions/get", target)
    assert after.json() == {"allowed": False, "permission": "NO_PERMISSIONS"}  # the default


# Who may call what, as MLflow's basic-auth app decides: (caller, path) -> allowed. Callers:
# "self" is the user the request names, "other" a user without grants, "manager" a user with
# MANAGE on the experiment, "editor" one with EDIT.
def _requests(e: str) -> dict[str, tuple[str, dict[str, Any], set[str]]]:
    target = {"experiment_id": e, "username": "self"}
    resource = {"username": "self", "resource_type": "experiment", "resource_id": e}
    return {
        "users/create": ("POST", {"username": "newbie", "password": "p" * 8}, set()),
        "users/get": ("GET", {"username": "self"}, {"self"}),
        "users/update-password": (
            "PATCH",
            {"username": "self", "password": "p" * 8, "current_password": "self password"},
            {"self"},
        ),
        "users/update-admin": ("PATCH", {"username": "self", "is_admin": False}, set()),
        "users/delete": ("DELETE", {"username": "newbie"}, set()),  # made just above
        "experiments/permissions/create": (
            "POST",
            {**target, "permission": "READ"},
            {"manager"},
        ),
        "experiments/permissions/get": ("GET", target, {"manager"}),
        "experiments/permissions/update": (
            "PATCH",
            {**target, "permission": "READ"},
            {"manager"},
        ),
        "experiments/permissions/delete": ("DELETE", target, {"manager"}),
        "users/permissions/grant": ("POST", {**resource, "permission": "EDIT"}, {"manager"}),
        "users/permissions/get": ("GET", resource, {"self"}),
        "users/permissions/revoke": ("POST", resource, {"manager"}),
    }


def test_who_may_call_what(served: tuple[str, AuthStore]) -> None:
    url, auth = served
    callers = ("self", "other", "manager", "editor")
    for name in callers:
        auth.create_user(name, f"{name} password")
    wrong = []
    for path in _requests("0"):
        e = new_experiment(url, f"rules {path}")
        # Through the API, so that the server drops its cached grants (10 s) at once.
        for name, level in (("manager", "MANAGE"), ("editor", "EDIT")):
            grant = {"experiment_id": e, "username": name, "permission": level}
            assert call(url, "POST", "experiments/permissions/create", grant).status_code == 200
        for caller in callers:
            method, body, allowed = _requests(e)[path]
            answer = call(url, method, path, body, (caller, f"{caller} password"))
            if (answer.status_code == 403) == (caller in allowed) or answer.status_code >= 500:
                wrong.append((path, caller, answer.status_code, answer.text[:200]))
        # The admin may do everything.
        method, body, _ = _requests(e)[path]
        answer = call(url, method, path, body)
        if answer.status_code in (401, 403) or answer.status_code >= 500:
            wrong.append((path, "admin", answer.status_code, answer.text[:200]))
        if path == "users/update-password":  # keep the callers' passwords as they were
            auth.set_password("self", "self password")
    assert wrong == []


def test_registered_model_permissions_are_a_clear_400(served: tuple[str, AuthStore]) -> None:
    url, _ = served
    body = {"name": "model", "username": "admin", "permission": "READ"}
    for method, action in (("POST", "create"), ("GET", "get"), ("PATCH", "update")):
        answer = call(url, method, f"registered-models/permissions/{action}", body)
        assert "no model registry" in error(answer, 400, "BAD_REQUEST")
    answer = call(url, "DELETE", "registered-models/permissions/delete", body)
    assert "no model registry" in error(answer, 400, "BAD_REQUEST")


def test_without_auth_the_endpoints_say_so(tmp_path: Path) -> None:
    with BackgroundServer(f"sqlite:///{tmp_path}/runstack.db") as url:
        for method, path, body in (
            ("POST", "users/create", {"username": "x", "password": "p" * 8}),
            ("GET", "users/get", {"username": "x"}),
            ("DELETE", "users/delete", {"username": "x"}),
            (
                "PATCH",
                "experiments/permissions/update",
                {"experiment_id": "0", "username": "x", "permission": "READ"},
            ),
        ):
            answer = call(url, method, path, body)
            assert "start it with --auth" in error(answer, 400, "BAD_REQUEST")


_CLIENT_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from mlflow.exceptions import MlflowException
    from mlflow.server import get_app_client
    from mlflow.tracking import MlflowClient

    url, experiment_id = sys.argv[1], sys.argv[2]
    auth = get_app_client("basic-auth", tracking_uri=url)
    seen = {}

    def sign_in(username, password):
        os.environ["MLFLOW_TRACKING_USERNAME"] = username
        os.environ["MLFLOW_TRACKING_PASSWORD"] = password

    def status(fn):
        try:
            fn()
            return 200
        except MlflowException as e:
            return e.get_http_status_code()

    def log(value):
        return status(lambda: MlflowClient(url).log_metric(run, "m", value))

    sign_in("admin", "admin password")
    user = auth.create_user("eve", "eve password 1")
    seen["created"] = [user.id, user.username, user.is_admin]
    user = auth.get_user("eve")
    seen["got"] = [user.id, user.username, user.is_admin]
    try:
        auth.create_user("eve", "eve password 1")
    except MlflowException as e:
        seen["again"] = e.error_code
    run = MlflowClient(url).create_run(experiment_id).info.run_id

    sign_in("eve", "eve password 1")
    seen["own_before"] = status(lambda: auth.get_user("eve"))
    auth.update_user_password("eve", "eve password 2", current_password="eve password 1")
    seen["old_after_own_change"] = status(lambda: auth.get_user("eve"))
    sign_in("eve", "eve password 2")
    seen["new_after_own_change"] = status(lambda: auth.get_user("eve"))
    seen["other_user"] = status(lambda: auth.get_user("admin"))

    sign_in("admin", "admin password")
    auth.update_user_password("eve", "eve password 3")
    sign_in("eve", "eve password 2")
    seen["old_after_admin_change"] = status(lambda: auth.get_user("eve"))
    sign_in("eve", "eve password 3")
    seen["new_after_admin_change"] = status(lambda: auth.get_user("eve"))

    sign_in("admin", "admin password")
    auth.grant_user_permission("eve", "experiment", experiment_id, "READ")
    sign_in("eve", "eve password 3")
    read = auth.get_user_permission("eve", "experiment", experiment_id)
    seen["read"] = [read.allowed, read.permission]
    seen["log_with_read"] = log(1.0)
    sign_in("admin", "admin password")
    auth.revoke_user_permission("eve", "experiment", experiment_id)
    auth.grant_user_permission("eve", "experiment", experiment_id, "EDIT")
    edit = auth.get_user_permission("eve", "experiment", experiment_id)
    seen["edit"] = [edit.allowed, edit.permission]
    sign_in("eve", "eve password 3")
    seen["log_with_edit"] = log(2.0)
    sign_in("admin", "admin password")
    auth.revoke_user_permission("eve", "experiment", experiment_id)
    sign_in("eve", "eve password 3")
    seen["log_revoked"] = log(3.0)

    sign_in("admin", "admin password")
    auth.update_user_admin("eve", True)
    seen["admin"] = auth.get_user("eve").is_admin
    auth.delete_user("eve")
    seen["deleted"] = status(lambda: auth.get_user("eve"))
    sign_in("eve", "eve password 3")
    seen["deleted_signs_in"] = status(lambda: MlflowClient(url).get_experiment(experiment_id))
    print(json.dumps(seen))
    """
)


@pytest.mark.slow
def test_mlflow_s_own_auth_client(served: tuple[str, AuthStore], tmp_path: Path) -> None:
    url, auth = served
    e = new_experiment(url, "for eve")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    done = subprocess.run(
        [str(MLFLOW_AUTH_PYTHON), "-c", _CLIENT_SCRIPT, url, e],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=environment,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {
        "created": ["eve", "eve", False],
        "got": ["eve", "eve", False],
        "again": "RESOURCE_ALREADY_EXISTS",
        "own_before": 200,
        "old_after_own_change": 401,
        "new_after_own_change": 200,
        "other_user": 403,
        "old_after_admin_change": 401,
        "new_after_admin_change": 200,
        "read": [False, "READ"],
        "log_with_read": 403,
        "edit": [True, "EDIT"],
        "log_with_edit": 200,
        "log_revoked": 403,
        "admin": True,
        "deleted": 404,
        "deleted_signs_in": 401,
    }
    assert auth.get_user("eve") is None
