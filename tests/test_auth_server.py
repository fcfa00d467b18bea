"""``runstack server --auth`` on a real socket, on SQLite and PostgreSQL: 401 for missing or
wrong credentials, Basic and Bearer accepted, failed logins limited, and every endpoint by
every permission level answered as MLflow's basic-auth app would (403 when lacking)."""

from __future__ import annotations

import base64
import contextlib
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runstack.auth.permissions import Permission
from runstack.auth.store import AuthStore
from runstack.server import handlers_ui
from runstack.server.auth_guard import AuthSettings, policy_path
from runstack.server.background import BackgroundServer
from runstack.server.config import ServerSettings
from runstack.server.routes import ALL_ENDPOINTS

# Servers started with --auth, users signed in: about a second per test.
pytestmark = pytest.mark.slow

API = "/api/2.0/"
ADMIN = ("admin", "admin password")
LEVELS = ("NO_PERMISSIONS", "READ", "EDIT", "MANAGE")


def basic(user: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


@pytest.fixture
def served(
    store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, AuthStore]]:
    monkeypatch.setenv("RUNSTACK_SERVER_ARTIFACTS_DESTINATION", str(tmp_path / "artifacts"))
    auth = AuthStore.open(store_uri)
    auth.create_user(*ADMIN, is_admin=True)
    for level in LEVELS:
        auth.create_user(level.lower(), f"{level.lower()} password")
    with auth_server(store_uri, grants_ttl_s=0.0) as url:
        yield url, auth
    auth.close()


@contextlib.contextmanager
def auth_server(store_uri: str, grants_ttl_s: float) -> Iterator[str]:
    """A running ``--auth`` server over ``store_uri`` (no default permission); its URL."""
    settings = ServerSettings(
        auth=AuthSettings(default_permission=Permission.NO_PERMISSIONS, grants_ttl_s=grants_ttl_s)
    )
    server = BackgroundServer(store_uri, server_settings=settings)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def test_missing_or_wrong_credentials_are_401_with_one_message(
    served: tuple[str, AuthStore],
) -> None:
    url, _ = served
    path = url + API + "mlflow/experiments/get?experiment_id=0"
    answers = [
        httpx.get(path),
        httpx.get(path, headers=basic("admin", "wrong password")),
        httpx.get(path, headers=basic("nobody", "admin password")),
        httpx.get(path, headers={"Authorization": "Bearer rst_not-a-token"}),
        httpx.get(path, headers={"Authorization": "Basic !!!"}),
        httpx.get(path, headers={"Authorization": "Digest x"}),
        httpx.post(url + API + "mlflow/experiments/create", json={"name": "x"}),
    ]
    assert {a.status_code for a in answers} == {401}
    assert {a.headers["WWW-Authenticate"] for a in answers} == {'Basic realm="runstack"'}
    assert len({a.json()["message"] for a in answers}) == 1
    assert {a.json()["error_code"] for a in answers} == {"UNAUTHENTICATED"}
    # Health and version stay open (load balancers); the API does not.
    assert httpx.get(url + "/health").status_code == 200


def test_basic_and_bearer_are_accepted(served: tuple[str, AuthStore]) -> None:
    url, auth = served
    secret, _ = auth.create_token("admin", "ci")
    path = url + API + "mlflow/experiments/get?experiment_id=0"
    assert httpx.get(path, headers=basic(*ADMIN)).status_code == 200
    assert httpx.get(path, headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    revoked, revoked_info = auth.create_token("admin", "old")
    auth.revoke_token(revoked_info.token_id)
    assert httpx.get(path, headers={"Authorization": f"Bearer {revoked}"}).status_code == 401


def test_failed_logins_are_limited_per_user_and_address(served: tuple[str, AuthStore]) -> None:
    url, _ = served
    path = url + API + "mlflow/experiments/get?experiment_id=0"
    statuses = [httpx.get(path, headers=basic("read", f"guess {i}")).status_code for i in range(10)]
    assert statuses == [401] * 10
    # Now even the right password is refused for a while, from this address too.
    locked = httpx.get(path, headers=basic("read", "read password"))
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.json()["message"]
    assert httpx.get(path, headers=basic(*ADMIN)).status_code == 429


def _level_headers(level: str) -> dict[str, str]:
    return basic(level.lower(), f"{level.lower()} password")


# Every endpoint (path under /api/2.0/) -> (the permission it needs, its request). A request
# is built from the experiment id and run id made for it; "*" needs no permission at all.
def _requests(e: str, r: str, n: int) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {
        "mlflow/experiments/get": ("READ", "GET", {"experiment_id": e}),
        "mlflow/experiments/get-by-name": ("READ", "GET", {"experiment_name": f"exp-{e}"}),
        "mlflow/experiments/delete": ("MANAGE", "POST", {"experiment_id": e}),
        "mlflow/experiments/restore": ("MANAGE", "POST", {"experiment_id": e}),
        "mlflow/experiments/update": (
            "EDIT",
            "POST",
            {"experiment_id": e, "new_name": f"renamed-{e}-{n}"},
        ),
        "mlflow/experiments/set-experiment-tag": (
            "EDIT",
            "POST",
            {"experiment_id": e, "key": "k", "value": "v"},
        ),
        "mlflow/experiments/delete-experiment-tag": (
            "EDIT",
            "POST",
            {"experiment_id": e, "key": "k"},
        ),
        "mlflow/runs/create": ("EDIT", "POST", {"experiment_id": e}),
        "mlflow/runs/get": ("READ", "GET", {"run_id": r}),
        "mlflow/artifacts/list": ("READ", "GET", {"run_id": r}),
        "mlflow/runs/update": ("EDIT", "POST", {"run_id": r, "status": "RUNNING"}),
        "mlflow/runs/delete": ("MANAGE", "POST", {"run_id": r}),
        "mlflow/runs/restore": ("MANAGE", "POST", {"run_id": r}),
        "mlflow/runs/search": ("READ", "POST", {"experiment_ids": [e]}),
        "mlflow/runs/log-metric": (
            "EDIT",
            "POST",
            {"run_id": r, "key": "m", "value": 1.0, "timestamp": 1, "step": n},
        ),
        "mlflow/runs/log-parameter": ("EDIT", "POST", {"run_id": r, "key": f"p{n}", "value": "1"}),
        "mlflow/runs/set-tag": ("EDIT", "POST", {"run_id": r, "key": "t", "value": "1"}),
        "mlflow/runs/delete-tag": ("EDIT", "POST", {"run_id": r, "key": "t"}),
        "mlflow/runs/log-batch": (
            "EDIT",
            "POST",
            {"run_id": r, "tags": [{"key": "b", "value": "1"}]},
        ),
        "mlflow/runs/log-inputs": ("EDIT", "POST", {"run_id": r, "datasets": []}),
        "mlflow/metrics/get-history": ("READ", "GET", {"run_id": r, "metric_key": "m"}),
        "mlflow/metrics/get-history-bulk-interval": (
            "READ",
            "GET",
            {"run_ids": r, "metric_key": "m"},
        ),
        "mlflow/logged-models/search": ("READ", "POST", {"experiment_ids": [e]}),
        "runstack/server-info": ("*", "GET", {}),
        "runstack/runs/create": ("EDIT", "POST", {"experiment_id": e}),
        "runstack/runs/resume": ("EDIT", "POST", {"run_id": r}),
        "runstack/runs/renew-heartbeats": (
            "EDIT",
            "POST",
            {"run_ids": [r], "timeout_ms": 60000},
        ),
        "runstack/runs/log-batch": (
            "EDIT",
            "POST",
            {"run_id": r, "tags": [{"key": "c", "value": "1"}]},
        ),
        "runstack/ui/config": ("*", "GET", {}),
        "runstack/ui/experiments/keys": ("READ", "GET", {"experiment_id": e}),
        "runstack/ui/runs/table": ("READ", "POST", {"experiment_ids": [e]}),
        "runstack/ui/runs/detail": ("READ", "GET", {"run_id": r}),
        "runstack/ui/metrics/series": ("READ", "GET", {"run_id": r, "key": "m"}),
        "runstack/ui/artifacts/list": ("READ", "GET", {"run_id": r}),
        "runstack/ui/artifacts/get": ("READ", "GET", {"run_id": r, "path": "none.txt"}),
        # MLflow's auth API: another user's record is for admins only ("admin": no level is
        # enough); an experiment's permissions need MANAGE on it.
        "mlflow/users/create": ("admin", "POST", {"username": f"new{n}", "password": "p" * 8}),
        "mlflow/users/get": ("admin", "GET", {"username": "admin"}),
        "mlflow/users/update-password": (
            "admin",
            "PATCH",
            {"username": "admin", "password": "p" * 8},
        ),
        "mlflow/users/update-admin": ("admin", "PATCH", {"username": "read", "is_admin": True}),
        "mlflow/users/delete": ("admin", "DELETE", {"username": "read"}),
        "mlflow/experiments/permissions/create": (
            "MANAGE",
            "POST",
            {"experiment_id": e, "username": "no_permissions", "permission": "READ"},
        ),
        "mlflow/experiments/permissions/get": (
            "MANAGE",
            "GET",
            {"experiment_id": e, "username": "read"},
        ),
        "mlflow/experiments/permissions/update": (
            "MANAGE",
            "PATCH",
            {"experiment_id": e, "username": "read", "permission": "EDIT"},
        ),
        "mlflow/experiments/permissions/delete": (
            "MANAGE",
            "DELETE",
            {"experiment_id": e, "username": "read"},
        ),
        # MLflow 3's per-user permissions (/api/3.0/).
        "mlflow/users/permissions/grant": (
            "MANAGE",
            "POST",
            {
                "username": "no_permissions",
                "resource_type": "experiment",
                "resource_id": e,
                "permission": "READ",
            },
        ),
        "mlflow/users/permissions/revoke": (
            "MANAGE",
            "POST",
            {"username": "edit", "resource_type": "experiment", "resource_id": e},
        ),
        "mlflow/users/permissions/get": (
            "admin",
            "GET",
            {"username": "admin", "resource_type": "experiment", "resource_id": e},
        ),
        # No model registry: a 400 for everyone, never a 403.
        **{
            f"mlflow/registered-models/permissions/{action}": (
                "*",
                method,
                {"name": "m", "username": "read", "permission": "READ"},
            )
            for action, method in (
                ("create", "POST"),
                ("get", "GET"),
                ("update", "PATCH"),
                ("delete", "DELETE"),
            )
        },
    }


# Answered to every signed-in user, filtered to what they may read (tested below).
FILTERED = {"mlflow/experiments/search", "runstack/ui/experiments", "mlflow/experiments/create"}


def test_every_endpoint_is_in_the_table() -> None:
    paths = {policy_path(e.full_path) for e in ALL_ENDPOINTS}
    paths.add(handlers_ui.config_endpoint(False).full_path.removeprefix(API))
    assert paths == set(_requests("1", "r", 0)) | FILTERED


# Policy key -> the endpoint's path (most are below /api/2.0/, MLflow 3's auth API below 3.0).
_FULL_PATHS = {policy_path(e.full_path): e.full_path for e in ALL_ENDPOINTS}


def _send(url: str, method: str, path: str, body: dict[str, Any], level: str) -> httpx.Response:
    headers = _level_headers(level) if level != "admin" else basic(*ADMIN)
    full = _FULL_PATHS.get(path, API + path)
    if method == "GET":
        return httpx.get(url + full, params=body, headers=headers)
    return httpx.request(method, url + full, json=body, headers=headers)


@pytest.mark.slow
def test_each_endpoint_at_each_permission_level(served: tuple[str, AuthStore]) -> None:
    url, auth = served
    wrong = []
    counter = itertools.count()
    for path in _requests("1", "r", 0):
        # A fresh experiment and run per endpoint, made by the admin, so that a delete or
        # rename allowed at one level does not change what the next request finds.
        n = next(counter)
        made = _send(url, "POST", "mlflow/experiments/create", {"name": f"exp-{n}"}, "admin")
        e = made.json()["experiment_id"]
        _send(
            url,
            "POST",
            "mlflow/experiments/update",
            {"experiment_id": e, "new_name": f"exp-{e}"},
            "admin",
        )
        r = _send(url, "POST", "mlflow/runs/create", {"experiment_id": e}, "admin").json()["run"][
            "info"
        ]["run_id"]
        for level in LEVELS:
            if level != "NO_PERMISSIONS":
                auth.grant(e, level.lower(), Permission[level])
        for level in LEVELS:
            needs, method, body = _requests(e, r, next(counter))[path]
            answer = _send(url, method, path, body, level)
            allowed = needs == "*" or (
                needs != "admin" and Permission[level].allows(Permission[needs])
            )
            denied = answer.status_code == 403
            if denied == allowed or answer.status_code >= 500:
                wrong.append((path, level, answer.status_code, answer.text[:200]))
            if denied:
                assert answer.json()["error_code"] == "PERMISSION_DENIED"
    assert wrong == []


def test_searches_show_only_what_the_caller_may_read(served: tuple[str, AuthStore]) -> None:
    url, auth = served
    ids = {}
    for name in ("visible", "hidden"):
        made = _send(url, "POST", "mlflow/experiments/create", {"name": name}, "admin")
        ids[name] = made.json()["experiment_id"]
    auth.grant(ids["visible"], "read", Permission.READ)

    def names(path: str, method: str, level: str) -> set[str]:
        body = {"max_results": 100} if method == "POST" else {}
        answer = _send(url, method, path, body, level)
        assert answer.status_code == 200, answer.text
        return {e["name"] for e in answer.json().get("experiments", [])}

    for path, method in (("mlflow/experiments/search", "POST"), ("runstack/ui/experiments", "GET")):
        assert names(path, method, "READ") == {"visible"}
        assert names(path, method, "NO_PERMISSIONS") == set()
        assert {"visible", "hidden", "Default"} <= names(path, method, "admin")
    # Reading runs of an experiment one may not read is refused outright.
    refused = _send(url, "POST", "mlflow/runs/search", {"experiment_ids": [ids["hidden"]]}, "READ")
    assert refused.status_code == 403


def test_the_creator_of_an_experiment_may_manage_it(served: tuple[str, AuthStore]) -> None:
    url, auth = served
    made = _send(url, "POST", "mlflow/experiments/create", {"name": "mine"}, "NO_PERMISSIONS")
    assert made.status_code == 200, made.text
    experiment_id = made.json()["experiment_id"]
    assert auth.grants("no_permissions") == {experiment_id: Permission.MANAGE}
    run = _send(
        url, "POST", "mlflow/runs/create", {"experiment_id": experiment_id}, "NO_PERMISSIONS"
    )
    assert run.status_code == 200
    gone = _send(
        url, "POST", "mlflow/experiments/delete", {"experiment_id": experiment_id}, "NO_PERMISSIONS"
    )
    assert gone.status_code == 200
    # Someone else, with no grant, may not even see it.
    other = _send(url, "GET", "mlflow/experiments/get", {"experiment_id": experiment_id}, "READ")
    assert other.status_code == 403


def test_artifact_proxy_needs_credentials_and_the_experiment_s_permission(
    served: tuple[str, AuthStore],
) -> None:
    url, auth = served
    made = _send(url, "POST", "mlflow/experiments/create", {"name": "files"}, "admin")
    e = made.json()["experiment_id"]
    for level in ("READ", "EDIT", "MANAGE"):
        auth.grant(e, level.lower(), Permission[level])
    file_url = f"{url}/api/2.0/mlflow-artifacts/artifacts/{e}/run1/artifacts/a.txt"

    def status(method: str, level: str | None, target: str = file_url) -> int:
        headers = {} if level is None else _level_headers(level)
        return httpx.request(method, target, headers=headers, content=b"x").status_code

    assert status("PUT", None) == 401
    assert status("PUT", "READ") == 403
    assert status("PUT", "EDIT") == 200
    assert status("GET", "NO_PERMISSIONS") == 403
    assert status("GET", "READ") == 200
    listing = f"{url}/api/2.0/mlflow-artifacts/artifacts?path={e}/run1/artifacts"
    assert status("GET", "READ", listing) == 200
    assert status("GET", "NO_PERMISSIONS", listing) == 403
    root = f"{url}/api/2.0/mlflow-artifacts/artifacts"
    assert status("GET", "MANAGE", root) == 403  # outside any experiment: admins only
    assert httpx.get(root, headers=basic(*ADMIN)).status_code == 200
    assert status("DELETE", "EDIT") == 403
    assert status("DELETE", "MANAGE") == 200


def test_web_ui_login_page_and_session_cookie(served: tuple[str, AuthStore]) -> None:
    url, _ = served
    with httpx.Client(base_url=url) as browser:
        page = browser.get("/")
        assert page.status_code == 303 and page.headers["location"] == "/login"
        login = browser.get("/login")
        assert login.status_code == 200 and "<form" in login.text
        assert "frame-ancestors 'none'" in login.headers["content-security-policy"]
        assert browser.get("/login.js").status_code == 200
        wrong = browser.post("/login", json={"username": "read", "password": "not it at all"})
        assert wrong.status_code == 401 and "session" not in wrong.headers.get("set-cookie", "")
        form = browser.post("/login", data={"username": "read", "password": "read password"})
        assert form.status_code == 415
        signed = browser.post("/login", json={"username": "read", "password": "read password"})
        assert signed.status_code == 200, signed.text
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
        assert browser.get("/").status_code == 200  # the UI page itself now
        api = browser.get(API + "mlflow/experiments/search", params={"max_results": 10})
        assert api.status_code == 200
        stolen = dict(browser.cookies)
        assert browser.post("/logout").status_code == 200
    after = httpx.get(url + API + "mlflow/experiments/search", cookies=stolen)
    assert after.status_code == 401  # the session was revoked, not just forgotten
