"""The web UI's serving, without a browser: the page and static files over a real socket, with
their security and cache headers, and checks on the shipped files themselves (no inline
script, no markup built from strings, vendored libraries with their licences)."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import httpx
import pytest

from runstack.server.background import BackgroundServer
from runstack.ui.assets import load_static
from runstack.ui.routes import CSP

STATIC = Path(str(resources.files("runstack.ui").joinpath("static")))


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = BackgroundServer(f"sqlite:///{tmp_path_factory.mktemp('uistatic')}/ui.db")
    yield server.start()
    server.stop()


def _assets(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/static/[^"]+)"', page)


def test_the_page_is_served_at_root_with_a_strict_policy(url: str) -> None:
    response = httpx.get(url + "/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "connect-src 'self'" in CSP
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-cache"
    # Scripts only from files: no inline script or event handler in the page.
    for tag in re.findall(r"<script[^>]*>", response.text):
        assert 'src="/static/' in tag, tag
    assert not re.search(r"<script[^>]*>\s*[^<\s]", response.text)
    assert not re.search(r"\son[a-z]+=", response.text)
    assets = _assets(response.text)
    assert any(a.endswith("/js/main.js") for a in assets)
    assert any(a.endswith("/vendor/uplot/uPlot.iife.min.js") for a in assets)
    # Revalidation answers 304.
    again = httpx.get(url + "/", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


def test_static_files_are_immutable_under_a_content_hash(url: str) -> None:
    page = httpx.get(url + "/").text
    static = load_static()
    for path in _assets(page):
        assert path.startswith(static.prefix), path
        response = httpx.get(url + path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"] == CSP
        relative = path.removeprefix(static.prefix)
        assert response.content == (STATIC / relative).read_bytes()
    script = httpx.get(url + static.url("js/main.js"))
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert (
        httpx.get(
            url + static.url("js/main.js"), headers={"If-None-Match": script.headers["etag"]}
        ).status_code
        == 304
    )
    # Compressed once, when the browser accepts it.
    raw = httpx.get(
        url + static.url("vendor/uplot/uPlot.iife.min.js"), headers={"Accept-Encoding": "gzip"}
    )
    assert raw.headers["content-encoding"] == "gzip"
    assert len(raw.content) == (STATIC / "vendor/uplot/uPlot.iife.min.js").stat().st_size


def test_unknown_static_files_and_old_versions_are_404(url: str) -> None:
    static = load_static()
    assert httpx.get(url + static.url("js/nope.js")).status_code == 404
    assert httpx.get(url + "/static/000000000000/js/main.js").status_code == 404
    assert httpx.get(url + static.url("%2e%2e/page.html")).status_code == 404


def test_the_version_hash_follows_the_content() -> None:
    first = load_static()
    assert first.version == load_static().version  # the same in every worker
    changed = type(first)({**{k: v.body for k, v in first.files.items()}, "js/main.js": b"x"})
    assert changed.version != first.version
    assert (
        gzip.decompress(first.files["js/main.js"].gzipped or b"")
        == (STATIC / "js/main.js").read_bytes()
    )


def test_scripts_never_build_markup_from_strings() -> None:
    sources = sorted((STATIC / "js").rglob("*.js"))
    assert len(sources) > 10
    for source in sources:
        text = source.read_text("utf-8")
        for danger in (
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ):
            assert danger not in text, f"{source.name} uses {danger}"


def test_vendored_libraries_ship_with_their_licence() -> None:
    vendor = STATIC / "vendor"
    libraries = [p for p in vendor.iterdir() if p.is_dir()]
    assert libraries
    docs = (Path(__file__).parent.parent / "docs" / "ui.md").read_text("utf-8")
    for library in libraries:
        assert (library / "LICENSE").is_file(), library.name
        note = (library / "VERSION").read_text("utf-8")
        name, version = note.split()[:2]
        assert f"{name} {version}" in docs or f"{name}@{version}" in docs, (name, version)


def test_a_missing_browser_fails_in_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    import browser_support

    monkeypatch.setattr(browser_support, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.delenv("RUNSTACK_REQUIRE_BROWSER", raising=False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Chromium is not installed"):
        browser_support.require_browser()
    monkeypatch.delenv("CI")
    monkeypatch.setenv("RUNSTACK_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception):
        browser_support.require_browser()
    monkeypatch.delenv("RUNSTACK_REQUIRE_BROWSER")
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        browser_support.require_browser()
