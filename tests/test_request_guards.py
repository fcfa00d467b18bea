"""Cross-site and DNS-rebinding protection (issue 10, finding 1), on a real server socket.

Requests are written as a browser on another site would send them (Origin, Sec-Fetch-Site,
text/plain and form bodies, a foreign Host) and as runstack's and MLflow's clients send them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from runstack.errors import InvalidParameterError
from runstack.server import check_bind, is_loopback
from runstack.server.background import BackgroundServer
from runstack.server.guards import GuardSettings

API = "/api/2.0/mlflow/"


@pytest.fixture
def server(store_uri: str) -> Iterator[tuple[httpx.Client, str]]:
    guards = GuardSettings.for_bind("127.0.0.1", ["tracking.test"], ["https://notebook.test"])
    with (
        BackgroundServer(store_uri, guards=guards) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        created = http.post(API + "experiments/create", json={"name": "target"})
        yield http, created.json()["experiment_id"]


def _experiment_stage(http: httpx.Client, experiment_id: str) -> str:
    response = http.get(API + "experiments/get", params={"experiment_id": experiment_id})
    stage: str = response.json()["experiment"]["lifecycle_stage"]
    return stage


def _refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error_code"] == code
    assert "access-control-allow-origin" not in response.headers


def test_a_cross_site_text_plain_post_cannot_delete(server: tuple[httpx.Client, str]) -> None:
    http, experiment_id = server
    for path in (API, "/ajax-api/2.0/mlflow/"):
        response = http.post(
            path + "experiments/delete",
            content=json.dumps({"experiment_id": experiment_id}),
            headers={"Content-Type": "text/plain", "Origin": "http://evil.example"},
        )
        _refused(response, 403, "PERMISSION_DENIED")
        assert "evil.example" in response.json()["message"]
    assert _experiment_stage(http, experiment_id) == "active"


def test_a_form_post_cannot_create(server: tuple[httpx.Client, str]) -> None:
    http, _ = server
    body = "x=" + json.dumps({"name": "planted"})
    for headers in (
        {"Origin": "http://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {},  # not even without Origin (an old browser): a form body is never JSON
    ):
        response = http.post(
            API + "experiments/create",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
        )
        assert response.status_code in (403, 415), response.text
        assert response.headers["content-type"] == "application/json"
    response = http.get(API + "experiments/get-by-name", params={"experiment_name": "planted"})
    assert response.status_code == 404


def test_cross_site_json_with_a_null_origin_is_refused(server: tuple[httpx.Client, str]) -> None:
    http, experiment_id = server
    response = http.post(
        API + "experiments/delete",
        json={"experiment_id": experiment_id},
        headers={"Origin": "null"},
    )
    _refused(response, 403, "PERMISSION_DENIED")
    assert _experiment_stage(http, experiment_id) == "active"


def test_same_origin_pages_and_plain_clients_may_change(server: tuple[httpx.Client, str]) -> None:
    http, experiment_id = server
    own = f"http://{http.base_url.host}:{http.base_url.port}"
    response = http.post(
        API + "experiments/update",
        json={"experiment_id": experiment_id, "new_name": "renamed"},
        headers={"Origin": own, "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 200, response.text
    assert "access-control-allow-origin" not in response.headers
    response = http.post(API + "experiments/delete", json={"experiment_id": experiment_id})
    assert response.status_code == 200  # no Origin: a script or MLflow's client
    assert _experiment_stage(http, experiment_id) == "deleted"


def test_allowed_origin_gets_cors_headers_and_preflight(server: tuple[httpx.Client, str]) -> None:
    http, experiment_id = server
    preflight = http.options(
        API + "experiments/delete",
        headers={
            "Origin": "https://notebook.test",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://notebook.test"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    response = http.post(
        API + "experiments/delete",
        json={"experiment_id": experiment_id},
        headers={"Origin": "https://notebook.test", "Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://notebook.test"
    evil = http.options(
        API + "experiments/delete",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    _refused(evil, 403, "PERMISSION_DENIED")


def test_reads_from_other_origins_get_no_cors_headers(server: tuple[httpx.Client, str]) -> None:
    http, _ = server
    response = http.get(API + "experiments/search", headers={"Origin": "http://evil.example"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"


def test_the_ui_page_carries_each_security_header_once(server: tuple[httpx.Client, str]) -> None:
    # The page sets its own stricter framing rule; the guard must not add a second,
    # conflicting X-Frame-Options (or a second nosniff) beside it.
    http, _ = server
    response = http.get("/")
    assert response.status_code == 200
    assert response.headers.get_list("x-frame-options") == ["DENY"]
    assert response.headers.get_list("x-content-type-options") == ["nosniff"]


@pytest.mark.parametrize("host", ["evil.example", "evil.example:5000", "127.0.0.1.evil.example"])
def test_a_foreign_host_is_refused_dns_rebinding(
    server: tuple[httpx.Client, str], host: str
) -> None:
    http, experiment_id = server
    response = http.get(
        API + "experiments/get", params={"experiment_id": experiment_id}, headers={"Host": host}
    )
    _refused(response, 403, "PERMISSION_DENIED")
    assert "--allowed-hosts" in response.json()["message"]
    assert "target" not in response.text
    assert http.get("/health", headers={"Host": host}).text == "OK"
    listed = http.get(
        API + "experiments/get",
        params={"experiment_id": experiment_id},
        headers={"Host": "tracking.test:5000"},
    )
    assert listed.status_code == 200


def test_non_json_content_type_is_a_415(server: tuple[httpx.Client, str]) -> None:
    http, _ = server
    response = http.post(
        API + "experiments/create", content=b'{"name": "x"}', headers={"Content-Type": "text/json"}
    )
    _refused(response, 415, "BAD_REQUEST")
    ok = http.post(
        API + "experiments/create",
        content=b'{"name": "x"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 200


def test_default_hosts_depend_on_the_bind_address() -> None:
    loopback = GuardSettings.for_bind("127.0.0.1")
    assert loopback.host_allowed("localhost:5000") and loopback.host_allowed("[::1]:5000")
    assert not loopback.host_allowed("10.1.2.3:5000")
    assert not loopback.host_allowed("evil.example")
    wide = GuardSettings.for_bind("0.0.0.0")
    assert wide.host_allowed("10.1.2.3:5000") and wide.host_allowed("[fd00::1]:80")
    assert not wide.host_allowed("evil.example:5000")
    listed = GuardSettings.for_bind("0.0.0.0", ["*.corp", "box:8080"])
    assert listed.host_allowed("a.corp") and listed.host_allowed("box:8080")
    assert not listed.host_allowed("box:8081") and not listed.host_allowed("10.1.2.3")
    assert GuardSettings.for_bind("0.0.0.0", ["*"]).host_allowed("anything.example")


def test_binding_beyond_loopback_needs_allow_unauthenticated() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    check_bind("127.0.0.1", allow_unauthenticated=False)
    with pytest.raises(InvalidParameterError, match="--allow-unauthenticated"):
        check_bind("0.0.0.0", allow_unauthenticated=False)
    check_bind("0.0.0.0", allow_unauthenticated=True)
