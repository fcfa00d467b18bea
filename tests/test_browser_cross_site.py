"""A real browser (Chromium through Playwright) on another origin cannot change or read the
server, nor can a DNS-rebound name (issue 10, finding 1); a same-origin page can."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from browser_kit import launch
from browser_support import require_browser
from runstack.server.background import BackgroundServer

EXTRA_ARGS = [
    "--host-resolver-rules=MAP rebind.test 127.0.0.1",
    # Chromium's own private-network checks would block some of these requests by
    # themselves; off, so that what stops them is the server.
    "--disable-features=BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights,"
    "PrivateNetworkAccessRespectPreflightResults,LocalNetworkAccessChecks",
]

ATTACK = """<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="plain" method="POST" enctype="text/plain" target="sink"
      action="TARGET/ajax-api/2.0/mlflow/experiments/create">
  <input name='{"name": "planted-plain", "x": "' value='"}'>
</form>
<form id="urlenc" method="POST" target="sink"
      action="TARGET/api/2.0/mlflow/experiments/create">
  <input name='{"name": "planted-form"}' value=''>
</form>
<script>
window.results = {};
async function attempt(name, run) {
  try { window.results[name] = await run(); } catch (e) { window.results[name] = 'error: ' + e; }
}
async function attack() {
  await attempt('text_plain_delete', async () => {
    const r = await fetch('TARGET/api/2.0/mlflow/experiments/delete', {method: 'POST',
      mode: 'no-cors', headers: {'Content-Type': 'text/plain'}, body: JSON.stringify(
      {experiment_id: 'EXPERIMENT'})});
    return 'opaque:' + r.type;
  });
  await attempt('json_delete', async () => {
    const r = await fetch('TARGET/api/2.0/mlflow/experiments/delete', {method: 'POST',
      headers: {'Content-Type': 'application/json'}, body: JSON.stringify(
      {experiment_id: 'EXPERIMENT'})});
    return 'status:' + r.status;
  });
  await attempt('read', async () => {
    const r = await fetch('TARGET/api/2.0/mlflow/experiments/search?max_results=10');
    return 'read:' + (await r.text());
  });
  document.getElementById('plain').submit();
  await new Promise(resolve => setTimeout(resolve, 500));
  document.getElementById('urlenc').submit();
  await new Promise(resolve => setTimeout(resolve, 500));
  window.done = true;
}
attack();
</script></body></html>"""


class _PageHandler(http.server.BaseHTTPRequestHandler):
    page = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def browser() -> Iterator[Any]:
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = launch(playwright, *EXTRA_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def target(store_uri: str) -> Iterator[tuple[str, str]]:
    with BackgroundServer(store_uri) as url:
        created = httpx.post(f"{url}/api/2.0/mlflow/experiments/create", json={"name": "target"})
        yield url, created.json()["experiment_id"]


def _state(url: str, experiment_id: str) -> tuple[str, list[str]]:
    got = httpx.get(f"{url}/api/2.0/mlflow/experiments/get?experiment_id={experiment_id}")
    names = httpx.post(f"{url}/api/2.0/mlflow/experiments/search", json={"max_results": 100})
    found = [e["name"] for e in names.json()["experiments"]]
    return got.json()["experiment"]["lifecycle_stage"], found


def _page_result(browser: Any, page_url: str, html: str, expression: str) -> Any:
    """Open ``html`` as if served at ``page_url`` (a route: no server needed), wait for its
    script to set ``window.done``, and return ``expression`` evaluated in the page."""
    page = browser.new_page()
    page.route(
        page_url, lambda route: route.fulfill(status=200, content_type="text/html", body=html)
    )
    page.goto(page_url)
    page.wait_for_function("window.done === true", timeout=20_000)
    result = page.evaluate(expression)
    page.close()
    return result


@pytest.mark.slow
def test_a_page_on_another_origin_cannot_change_or_read(
    browser: Any, target: tuple[str, str]
) -> None:
    url, experiment_id = target
    handler = type("Handler", (_PageHandler,), {})
    handler.page = ATTACK.replace("TARGET", url).replace("EXPERIMENT", experiment_id).encode()
    evil = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{evil.server_address[1]}/")
        page.wait_for_function("window.done === true", timeout=20_000)
        results = page.evaluate("window.results")
        page.close()
    finally:
        evil.shutdown()
    assert results["text_plain_delete"] == "opaque:opaque"  # sent, answer unreadable
    assert results["json_delete"].startswith("error: TypeError")  # preflight refused
    assert results["read"].startswith("error: TypeError")  # no CORS headers: unreadable
    stage, names = _state(url, experiment_id)
    assert stage == "active"
    assert names == ["target", "Default"] or sorted(names) == ["Default", "target"]


@pytest.mark.slow
def test_a_dns_rebound_name_gets_nothing(browser: Any, target: tuple[str, str]) -> None:
    """rebind.test resolves to 127.0.0.1 in this browser; its page (served by "the attacker"
    before the switch, here by a route) then talks to the server as same-origin."""
    url, experiment_id = target
    port = url.rsplit(":", 1)[1]
    script = f"""<script>
      window.results = {{}};
      (async () => {{ try {{
        const read = await fetch('/api/2.0/mlflow/experiments/search?max_results=10');
        window.results.read = read.status + ':' + (await read.text());
        const del = await fetch('/api/2.0/mlflow/experiments/delete', {{method: 'POST',
          headers: {{'Content-Type': 'application/json'}},
          body: JSON.stringify({{experiment_id: '{experiment_id}'}})}});
        window.results.delete = del.status + ':' + (await del.text());
      }} catch (e) {{ window.results.error = String(e); }}
      window.done = true;
      }})();
    </script>"""
    results = _page_result(browser, f"http://rebind.test:{port}/", script, "window.results")
    assert "error" not in results, results
    assert results["read"].startswith("403:")
    assert "target" not in results["read"]
    assert results["delete"].startswith("403:")
    assert json.loads(results["delete"].split(":", 1)[1])["error_code"] == "PERMISSION_DENIED"
    assert _state(url, experiment_id)[0] == "active"


@pytest.mark.slow
def test_a_same_origin_page_can_change(browser: Any, target: tuple[str, str]) -> None:
    """What the web UI does: JSON POSTs from the server's own origin are answered."""
    url, experiment_id = target
    script = f"""<script>
      (async () => {{
        const r = await fetch('/api/2.0/mlflow/experiments/update', {{method: 'POST',
          headers: {{'Content-Type': 'application/json'}},
          body: JSON.stringify({{experiment_id: '{experiment_id}', new_name: 'renamed'}})}});
        window.answer = r.status;
        window.done = true;
      }})();
    </script>"""
    assert _page_result(browser, f"{url}/same-origin-page", script, "window.answer") == 200
    assert "renamed" in _state(url, experiment_id)[1]
