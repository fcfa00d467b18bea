"""The run page's Artifacts section in a real browser (Debian's Chromium through Playwright)
against a real `runstack server`: the tree opens folders on demand, and text, JSON, CSV, a PNG
and Markdown are previewed, with every piece of markup in them kept as text, HTML offered only
as a download, and no console error, failed request or request to another host."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from browser_kit import launch
from browser_support import Watch, require_browser, runstack_server
from runstack import TrackingClient
from runstack.store import close_stores

pytestmark = pytest.mark.slow

TEXT = "hello <b>not bold</b>\nsecond line\n"
CONFIG = {"lr": 0.01, "layers": [64, 32], "name": "<img src=x onerror=window.__xss=1>"}
CSV_ROWS = [["step", "loss"], *[[str(i), f"{1 / (i + 1):.3f}"] for i in range(300)]]
MARKDOWN = "# Title\n\n<script>window.__xss=2</script>\n\nSome **bold** text.\n"
HTML = "<html><body><script>window.__xss=3</script></body></html>"


def _png() -> bytes:
    from PIL import Image

    image = Image.new("RGB", (6, 4), (200, 30, 30))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    require_browser()
    folder = tmp_path_factory.mktemp("uiarts")
    uri = f"sqlite:///{folder}/ui.db"
    client = TrackingClient(uri)
    exp = client.create_experiment("arts", artifact_location=str(folder / "artifacts"))
    rid = client.create_run(exp, run_name="with-files").info.run_id
    client.log_text(rid, TEXT, "notes.txt")
    client.log_dict(rid, CONFIG, "config.json")
    csv_text = "".join(",".join(row) + "\n" for row in CSV_ROWS)
    client.log_text(rid, csv_text, "data/table.csv")
    client.log_text(rid, MARKDOWN, "data/readme.md")
    client.log_text(rid, HTML, "report.html")
    image = folder / "plot.png"
    image.write_bytes(_png())
    client.log_artifact(rid, str(image), "data/images")
    try:
        with runstack_server(uri, {}) as url:
            yield url, rid
    finally:
        close_stores()


@pytest.fixture(scope="module")
def browser(site: tuple[str, str]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


def test_tree_and_previews_keep_markup_as_text(browser: Any, site: tuple[str, str]) -> None:
    from playwright.sync_api import expect

    url, rid = site
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch = Watch(page, url)
    page.goto(f"{url}/#/runs/{rid}")
    section = page.locator("section.artifacts")
    preview = section.locator(".artifact-preview")
    expect(section.get_by_role("button", name="Folder data")).to_be_visible()
    expect(section.locator(".artifact-root > li")).to_have_count(4)  # data/, 3 files
    # Folders are listed when opened.
    expect(section.get_by_role("button", name="Preview data/table.csv")).to_have_count(0)
    section.get_by_role("button", name="Folder data").click()
    section.get_by_role("button", name="Folder data/images").click()

    section.get_by_role("button", name="Preview notes.txt").click()
    expect(preview.locator("pre")).to_have_text(TEXT)
    expect(preview.locator("b")).to_have_count(0)

    section.get_by_role("button", name="Preview config.json").click()
    expect(preview.locator("pre")).to_have_text(json.dumps(CONFIG, indent=2))
    expect(preview.locator("img")).to_have_count(0)

    section.get_by_role("button", name="Preview data/table.csv").click()
    table = preview.locator("table")
    expect(table.locator("thead th")).to_have_text(["step", "loss"])
    expect(table.locator("tbody tr")).to_have_count(199)  # 200 rows with the header
    expect(table.locator("tbody tr").first.locator("td")).to_have_text(["0", "1.000"])

    section.get_by_role("button", name="Preview data/images/plot.png").click()
    image = preview.locator("img.artifact-image")
    expect(image).to_be_visible()
    page.wait_for_function(
        "() => { const i = document.querySelector('img.artifact-image');"
        " return i && i.complete && i.naturalWidth === 6 && i.naturalHeight === 4; }"
    )

    section.get_by_role("button", name="Preview data/readme.md").click()
    expect(preview.locator(".markdown").get_by_role("heading", name="Title")).to_be_visible()
    expect(preview.locator(".markdown strong")).to_have_text("bold")
    expect(preview).to_contain_text("<script>window.__xss=2</script>")
    assert preview.locator("script").count() == 0

    section.get_by_role("button", name="Preview report.html").click()
    expect(preview).to_contain_text("No preview for this kind of file")
    assert preview.locator("iframe, object, embed").count() == 0
    link = preview.get_by_role("link", name="Download report.html")
    assert link.get_attribute("download") == "report.html"
    href = link.get_attribute("href")
    assert href is not None
    response = httpx.get(url + href)
    assert response.content == HTML.encode()
    assert response.headers["content-disposition"].startswith("attachment")

    assert page.evaluate("() => window.__xss") is None
    problems = watch.unexpected()
    context.close()
    assert problems == [], problems


def test_a_run_without_artifacts_says_so(
    browser: Any, site: tuple[str, str], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    url, rid = site
    client = TrackingClient(url)
    other = client.create_run(client.get_run(rid).info.experiment_id).info.run_id
    context = browser.new_context()
    page = context.new_page()
    watch = Watch(page, url)
    page.goto(f"{url}/#/runs/{other}")
    expect(page.locator("section.artifacts")).to_contain_text("No artifacts logged")
    problems = watch.unexpected()
    context.close()
    assert problems == [], problems


def test_a_running_runs_new_files_appear_and_open_folders_stay_open(
    browser: Any, site: tuple[str, str]
) -> None:
    from playwright.sync_api import expect

    url, rid = site
    client = TrackingClient(url)
    live = client.create_run(client.get_run(rid).info.experiment_id).info.run_id  # RUNNING
    client.log_text(live, "one", "first.txt")
    client.log_text(live, "a", "logs/a.txt")
    context = browser.new_context()
    page = context.new_page()
    watch = Watch(page, url)
    page.goto(f"{url}/#/runs/{live}")
    section = page.locator("section.artifacts")
    section.get_by_role("button", name="Folder logs").click()
    expect(section.get_by_role("button", name="Preview logs/a.txt")).to_be_visible()
    section.get_by_role("button", name="Preview first.txt").click()
    expect(section.locator(".artifact-preview pre")).to_have_text("one")

    client.log_text(live, "two", "second.txt")
    client.log_text(live, "b", "logs/b.txt")

    # The page's next poll (every 2.5 s while RUNNING) brings them, without a reload.
    expect(section.get_by_role("button", name="Preview second.txt")).to_be_visible(timeout=10_000)
    expect(section.get_by_role("button", name="Preview logs/b.txt")).to_be_visible(timeout=10_000)
    expect(section.get_by_role("button", name="Folder logs")).to_have_attribute(
        "aria-expanded", "true"
    )
    expect(section.get_by_role("button", name="Preview first.txt")).to_have_class(
        "link artifact-file selected"
    )
    expect(section.locator(".artifact-preview pre")).to_have_text("one")
    problems = watch.unexpected()
    context.close()
    assert problems == [], problems
