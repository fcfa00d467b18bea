"""The web UI in a real browser (Debian's Chromium through Playwright) against a real
`runstack server` on a loopback socket, with data logged through runstack's API.

Every test's page must finish with no console error or warning, no page error, no failed or
refused request (other than ones the test expects, like the 400 of a malformed filter) and no
request to another host (see browser_support.Watch).
"""

from __future__ import annotations

import csv
import io
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from browser_kit import launch
from browser_support import (
    Watch,
    coloured_pixels,
    require_browser,
    runstack_server,
)
from procs import children
from runstack import TrackingClient
from runstack.entities import Metric
from runstack.store import close_stores

# A real browser against a real server in a child process: slow (deselect with -m "not slow").
pytestmark = pytest.mark.slow

T0 = 1_760_000_000_000
XSS_NAME = "<script>window.__xss=1</script>"
XSS_IMG = '<img src=x onerror="window.__xss=2">'
XSS_NOTE = (
    "# Notes\n\n<script>window.__xss=4</script>\n\n"
    "**bold** and [bad link](javascript:window.__xss=3) " + XSS_IMG
)
FAST_HEARTBEAT = {"RUNSTACK_HEARTBEAT_INTERVAL": "0.2", "RUNSTACK_HEARTBEAT_TIMEOUT": "1.0"}


@dataclass
class Site:
    url: str
    uri: str
    experiment: str
    runs: dict[str, str]


def _history(final: float, steps: int = 60) -> list[Metric]:
    return [Metric("loss", final + 2.0 * math.exp(-s / 10), T0 + 1000 * s, s) for s in range(steps)]


def _seed(uri: str) -> tuple[str, dict[str, str]]:
    client = TrackingClient(uri)
    exp = client.create_experiment("ui-test", tags={"team": "vision"})
    client.create_experiment(XSS_IMG)
    ids: dict[str, str] = {}
    parent = client.create_run(exp, run_name="parent-run", start_time=T0)
    ids["parent"] = parent.info.run_id
    for i, name in enumerate(("child-a", "child-b")):
        child = client.create_run(
            exp, run_name=name, start_time=T0 + 10 + i, parent_run_id=parent.info.run_id
        )
        ids[name] = child.info.run_id
        client.set_terminated(child.info.run_id, "FINISHED", T0 + 500)
    client.set_terminated(parent.info.run_id, "FINISHED", T0 + 1000)
    for i, (name, lr, opt, final) in enumerate(
        (
            ("alpha", "0.1", "adam", 0.3),
            ("beta", "0.01", "sgd", 0.2),
            ("gamma", "0.001", "adam", 0.1),
        )
    ):
        run = client.create_run(exp, run_name=name, start_time=T0 + 100_000 * (i + 1))
        rid = run.info.run_id
        ids[name] = rid
        client.log_batch(rid, metrics=_history(final))
        client.log_param(rid, "lr", lr)
        client.log_param(rid, "optimizer", opt)
        client.set_tag(rid, "mlflow.source.name", "train.py")
        client.set_terminated(rid, "FINISHED", T0 + 100_000 * (i + 1) + 60_000)
    bad = client.create_run(exp, run_name=XSS_NAME, start_time=T0 + 900_000)
    ids["xss"] = bad.info.run_id
    client.set_tag(bad.info.run_id, "html", XSS_IMG)
    client.set_tag(bad.info.run_id, "mlflow.note.content", XSS_NOTE)
    client.log_param(bad.info.run_id, "payload", XSS_IMG)
    client.set_terminated(bad.info.run_id, "FINISHED", T0 + 901_000)
    return exp, ids


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    require_browser()
    uri = f"sqlite:///{tmp_path_factory.mktemp('ui')}/ui.db"
    exp, ids = _seed(uri)
    try:
        with runstack_server(uri, {"RUNSTACK_SERVER_REAP_INTERVAL": "0.3"}) as url:
            yield Site(url, uri, exp, ids)
    finally:
        close_stores()


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


class Tab:
    """A fresh browser page on the site that records what went wrong."""

    def __init__(self, browser: Any, site: Site) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.site = site
        self.watch = Watch(self.page, site.url)
        self.last_series_url = ""

    def goto(self, fragment: str) -> Any:
        self.page.goto(self.site.url + "/" + fragment)
        self.page.wait_for_load_state("networkidle")
        return self.page


@pytest.fixture
def tab(browser: Any, site: Site) -> Iterator[Tab]:
    opened = Tab(browser, site)
    yield opened
    problems = opened.watch.unexpected()
    opened.context.close()
    assert problems == [], problems


def names(page: Any) -> list[str]:
    texts: list[str] = page.locator("table.runs-table tbody td.name a").all_inner_texts()
    return texts


def test_experiments_page_counts_and_create_rename_delete_restore(tab: Tab) -> None:
    from playwright.sync_api import expect

    page = tab.goto("#/")
    row = page.locator("tr", has=page.get_by_role("link", name="ui-test", exact=True))
    expect(row).to_contain_text("7 finished")
    expect(row).to_contain_text("team=vision")
    # A name with markup is a name.
    expect(page.get_by_role("link", name=XSS_IMG, exact=True)).to_be_visible()

    page.get_by_role("button", name="New experiment").click()
    page.get_by_role("textbox", name="Name").fill("made-in-browser")
    page.get_by_role("button", name="Create").click()
    made = page.locator("tr", has=page.get_by_role("link", name="made-in-browser", exact=True))
    expect(made).to_contain_text("no runs")

    made.get_by_role("button", name="Rename").click()
    page.get_by_role("textbox", name="New name").fill("renamed-in-browser")
    page.get_by_role("button", name="Rename", exact=True).last.click()
    renamed = page.locator("tr", has=page.get_by_role("link", name="renamed-in-browser"))
    expect(renamed).to_be_visible()

    renamed.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("dialog")).to_contain_text("Delete experiment “renamed-in-browser”?")
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(renamed).to_have_count(0)

    page.get_by_label("Which experiments").select_option("deleted")
    assert "view=deleted" in page.url
    deleted = page.locator("tr", has=page.get_by_role("link", name="renamed-in-browser"))
    deleted.get_by_role("button", name="Restore").click()
    page.get_by_role("dialog").get_by_role("button", name="Restore").click()
    expect(deleted).to_have_count(0)

    page.get_by_label("Which experiments").select_option("active")
    page.get_by_label("Search experiments by name").fill("renamed")
    expect(page.locator("tbody tr")).to_have_count(1)
    assert "q=renamed" in page.url


def test_duration_column_sorts_on_the_server(tab: Tab, site: Site) -> None:
    from playwright.sync_api import expect

    page = tab.goto(f"#/experiments/{site.experiment}")
    expect(page.locator("table.runs-table tbody tr")).to_have_count(5)
    page.get_by_role("button", name="Sort by Duration").click()
    expect(page.locator("th[aria-sort=ascending]")).to_contain_text("Duration")
    assert "attributes.duration" in page.url
    # 1 s runs first (ties newest first), then the 60 s ones.
    expect(page.locator("table.runs-table tbody td.name a")).to_have_text(
        [XSS_NAME, "parent-run", "gamma", "beta", "alpha"]
    )
    page.get_by_role("button", name="Sort by Duration").click()
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Duration")
    expect(page.locator("table.runs-table tbody td.name a")).to_have_text(
        ["gamma", "beta", "alpha", XSS_NAME, "parent-run"]
    )


def test_runs_tree_columns_sort_filter_and_csv(tab: Tab, site: Site) -> None:
    from playwright.sync_api import expect

    page = tab.goto(f"#/experiments/{site.experiment}")
    expect(page.locator("h1")).to_contain_text("ui-test")
    # Top level only, newest first; children under their parent on demand.
    expect(page.locator("table.runs-table tbody tr")).to_have_count(5)
    assert names(page) == [XSS_NAME, "gamma", "beta", "alpha", "parent-run"]
    page.get_by_role("button", name="Expand 2 child runs").click()
    expect(page.locator("td.name.depth-1 a")).to_have_text(["child-b", "child-a"])
    # The open parent is in the URL: a reload shows the same tree.
    expect(page).to_have_url(re.compile(r"open=[0-9a-f]{32}"))
    page.reload()
    expect(page.locator("td.name.depth-1 a")).to_have_text(["child-b", "child-a"])
    page.get_by_role("button", name="Collapse 2 child runs").click()
    expect(page.locator("td.name.depth-1 a")).to_have_count(0)
    assert "open=" not in page.url
    page.get_by_role("button", name="Expand 2 child runs").click()
    expect(page.locator("td.name.depth-1 a")).to_have_text(["child-b", "child-a"])

    # Pick a metric column through the searching picker.
    page.get_by_role("button", name="Columns…").click()
    page.get_by_label("Search keys").fill("los")
    page.get_by_role("checkbox", name="loss").check()
    expect(page.locator("table.runs-table thead")).to_contain_text("loss")
    assert "col=m%3Aloss" in page.url

    # Sort on it: ascending, then descending; runs without the metric go last.
    page.get_by_role("button", name="Sort by loss").click()
    expect(page.locator("th[aria-sort=ascending]")).to_contain_text("loss")
    assert names(page)[:3] == ["gamma", "beta", "alpha"]
    page.get_by_role("button", name="Sort by loss").click()
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("loss")
    assert names(page)[:3] == ["alpha", "beta", "gamma"]

    # The whole grammar: OR, IN, parentheses, NOT.
    box = page.get_by_label("Filter runs (search grammar)")
    box.fill("params.optimizer = 'sgd' OR (params.lr IN ('0.1', '0.5') AND NOT params.lr = '2')")
    box.press("Enter")
    expect(page.locator("table.runs-table tbody tr")).to_have_count(2)
    assert sorted(names(page)) == ["alpha", "beta"]

    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    with open(download.value.path(), encoding="utf-8") as exported:
        rows = list(csv.reader(io.StringIO(exported.read())))
    assert rows[0][:3] == ["run_id", "parent_run_id", "Run name"]
    assert rows[0][-1] == "metrics.loss"
    assert sorted(r[2] for r in rows[1:]) == ["alpha", "beta"]
    assert {round(float(r[-1]), 1) for r in rows[1:]} == {0.3, 0.2}


def test_malformed_filter_shows_message_with_caret(tab: Tab, site: Site) -> None:
    from playwright.sync_api import expect

    tab.watch.allow("400")  # the server's answer to the malformed filter
    page = tab.goto(f"#/experiments/{site.experiment}")
    box = page.get_by_label("Filter runs (search grammar)")
    text = "metrics.loss < 1 AND params.lr === '0.1'"
    box.fill(text)
    box.press("Enter")
    message = page.locator("#filter-error")
    expect(message).to_be_visible()
    expect(message).not_to_be_empty()
    caret = page.locator("pre.caret")
    expect(caret).to_be_visible()
    line = caret.inner_text()
    position = len(line) - 1
    assert line.endswith("^") and line[:-1].strip() == ""
    assert text.index("===") - 1 <= position <= text.index("===") + 3, (line, text)
    # Same font and left edge as the box: the caret is under the character it names.
    char_x = page.evaluate(
        """([pos]) => {
            const input = document.querySelector('input.filter');
            const style = getComputedStyle(input);
            const ctx = document.createElement('canvas').getContext('2d');
            ctx.font = `${style.fontSize} ${style.fontFamily}`;
            const box = input.getBoundingClientRect();
            return box.left + parseFloat(style.paddingLeft) + parseFloat(style.borderLeftWidth) +
                ctx.measureText(input.value.slice(0, pos)).width;
        }""",
        [position],
    )
    caret_x = page.evaluate(
        """() => {
            const pre = document.querySelector('pre.caret');
            const range = document.createRange();
            const text = pre.firstChild;
            range.setStart(text, text.length - 1);
            range.setEnd(text, text.length);
            return range.getBoundingClientRect().left;
        }"""
    )
    assert abs(caret_x - char_x) < 4, (caret_x, char_x)
    # Fixing the filter clears the message.
    box.fill("metrics.loss < 1")
    box.press("Enter")
    expect(message).to_be_hidden()
    expect(caret).to_be_hidden()


def test_a_copied_link_reproduces_the_view_and_back_forward_work(tab: Tab, site: Site) -> None:
    from playwright.sync_api import expect

    page = tab.goto(f"#/experiments/{site.experiment}")
    expect(page.locator("table.runs-table tbody tr")).to_have_count(5)
    box = page.get_by_label("Filter runs (search grammar)")
    box.fill("params.optimizer = 'adam'")
    box.press("Enter")
    expect(page.locator("table.runs-table tbody tr")).to_have_count(2)
    page.get_by_role("button", name="Sort by Run name").click()
    expect(page.locator("th[aria-sort=ascending]")).to_contain_text("Run name")
    page.get_by_role("checkbox", name="Select run gamma").check()
    link = page.url
    assert "filter=" in link and "order=" in link and "sel=" in link

    other = tab.context.new_page()
    Watch(other, site.url)
    other.goto(link)
    expect(other.locator("table.runs-table tbody tr")).to_have_count(2)
    assert names(other) == ["alpha", "gamma"]
    expect(other.get_by_label("Filter runs (search grammar)")).to_have_value(
        "params.optimizer = 'adam'"
    )
    expect(other.get_by_role("checkbox", name="Select run gamma")).to_be_checked()
    expect(other.get_by_role("link", name="Compare 1")).to_be_visible()
    other.close()

    page.go_back()  # before the sort
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Started")
    page.go_back()  # before the filter
    expect(page.locator("table.runs-table tbody tr")).to_have_count(5)
    expect(box).to_have_value("")
    page.go_forward()
    expect(page.locator("table.runs-table tbody tr")).to_have_count(2)


def test_run_page_paints_charts_and_chart_options_live_in_the_url(tab: Tab, site: Site) -> None:
    from playwright.sync_api import expect

    page = tab.goto(f"#/runs/{site.runs['alpha']}")
    expect(page.locator("h1")).to_have_text("alpha")
    expect(page.locator(".run-header .status")).to_have_text("FINISHED")
    expect(page.locator("dl.facts")).to_contain_text("train.py")
    metrics = page.locator("table.grid.compact").first
    expect(metrics).to_contain_text("loss")
    expect(metrics).to_contain_text("60")  # points
    canvas = 'figure[data-key="loss"] canvas'
    page.wait_for_function(
        "(s) => { const c = document.querySelector(s); return c && c.width > 0; }", arg=canvas
    )
    page.wait_for_timeout(200)
    raw = coloured_pixels(page, canvas)
    assert raw > 150, raw

    # Hover shows values.
    box = page.locator('figure[data-key="loss"] .u-over').bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    expect(page.locator('figure[data-key="loss"] .readout')).to_contain_text("alpha:")
    expect(page.locator('figure[data-key="loss"] .readout')).to_contain_text("step")

    # Smoothing: a smoothed line over the faint raw one; the option is in the URL.
    page.get_by_role("checkbox", name="Smoothing", exact=True).check()
    page.wait_for_function("() => location.hash.includes('smooth=0.6')")
    page.wait_for_timeout(200)
    smoothed = coloured_pixels(page, canvas)
    assert smoothed > 150 and smoothed != raw, (raw, smoothed)
    page.get_by_role("checkbox", name="Log scale y axis").check()
    page.get_by_label("X axis", exact=True).select_option("wall")
    page.wait_for_function("() => /log=1/.test(location.hash) && /x=wall/.test(location.hash)")
    page.wait_for_timeout(200)
    assert coloured_pixels(page, canvas) > 150

    # Drag to zoom: the range is fetched again at full resolution; reset brings it back.
    page.get_by_label("X axis", exact=True).select_option("step")
    with page.expect_request(
        lambda r: "metrics/series" in r.url and "min_step=" in r.url
    ) as zoom_request:
        page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + 40)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + 40, steps=5)
        page.mouse.up()
    tab.last_series_url = zoom_request.value.url
    reset = page.locator('figure[data-key="loss"]').get_by_role("button", name="Reset zoom")
    expect(reset).to_be_visible()
    zoomed = re.search(r"min_step=(\d+)", tab.last_series_url)
    assert zoomed is not None
    with page.expect_request(lambda r: "metrics/series" in r.url and "min_step=" in r.url) as pan:
        page.get_by_role("button", name="Pan loss right").click()
    panned = re.search(r"min_step=(\d+)", pan.value.url)
    assert panned is not None and int(panned.group(1)) > int(zoomed.group(1))
    reset.click()
    expect(reset).to_be_hidden()

    # Params search; filtering charts by key.
    page.get_by_label("Search params").fill("opt")
    expect(page.locator("table.kv").first.locator("tr")).to_have_count(1)
    page.get_by_label("Filter charts by metric key").fill("nothing-like-this")
    expect(page.locator('figure[data-key="loss"]')).to_be_hidden()

    # Reloading the link gives the same chart options.
    page.reload()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("checkbox", name="Log scale y axis")).to_be_checked()
    expect(page.get_by_role("checkbox", name="Smoothing", exact=True)).to_be_checked()


def test_parent_and_children_are_links(tab: Tab, site: Site) -> None:
    from playwright.sync_api import expect

    page = tab.goto(f"#/runs/{site.runs['parent']}")
    expect(page.locator("dl.facts")).to_contain_text("child-a")
    page.get_by_role("link", name="child-a").click()
    expect(page.locator("h1")).to_have_text("child-a")
    page.get_by_role("link", name="parent-run").click()
    expect(page.locator("h1")).to_have_text("parent-run")
    expect(page.locator("section.description")).to_contain_text("No description")


def test_compare_three_runs_with_grouping(tab: Tab, site: Site) -> None:
    from playwright.sync_api import expect

    page = tab.goto(f"#/experiments/{site.experiment}")
    for name in ("alpha", "beta", "gamma"):
        page.get_by_role("checkbox", name=f"Select run {name}").check()
    page.get_by_role("link", name="Compare 3").click()
    expect(page.locator("h1")).to_have_text("Comparing 3 runs")
    expect(page.locator(".legend-item")).to_have_count(3)
    canvas = 'figure[data-key="loss"] canvas'
    page.wait_for_function(
        "(s) => { const c = document.querySelector(s); return c && c.width > 0; }", arg=canvas
    )
    page.wait_for_timeout(200)
    assert coloured_pixels(page, canvas) > 300
    # Wall time on the x axis (each point at its timestamp), then back to steps.
    page.get_by_label("X axis", exact=True).select_option("wall")
    assert "x=wall" in page.url
    page.wait_for_timeout(200)
    assert coloured_pixels(page, canvas) > 300
    page.get_by_label("X axis", exact=True).select_option("step")
    # Differing params are marked.
    expect(page.locator("tr.differs th")).to_have_text(["lr", "optimizer"])
    # Group by a param: one mean line and band per value.
    page.get_by_label("Group runs by param").select_option("optimizer")
    expect(page.locator(".group-legend > span")).to_have_count(2)
    expect(page.locator(".group-legend")).to_contain_text("optimizer=adam (2 runs)")
    page.wait_for_timeout(200)
    assert coloured_pixels(page, canvas) > 300
    assert "group=optimizer" in page.url
    # Scatter and parallel coordinates are drawn.
    page.get_by_label("Scatter x axis").select_option("p:lr")
    page.wait_for_timeout(100)
    assert coloured_pixels(page, "section canvas[aria-label^='Scatter']") > 20
    assert coloured_pixels(page, "canvas[aria-label^='Parallel']") > 50
    # The same view from its link.
    link = page.url
    page.goto(site.url + "/#/")
    page.goto(link)
    expect(page.get_by_label("Group runs by param")).to_have_value("optimizer")
    expect(page.get_by_label("Scatter x axis")).to_have_value("p:lr")


def test_markup_in_names_tags_params_and_descriptions_stays_text(tab: Tab, site: Site) -> None:
    from playwright.sync_api import expect

    page = tab.goto(f"#/experiments/{site.experiment}")
    expect(page.get_by_role("link", name=XSS_NAME, exact=True)).to_be_visible()
    page.get_by_role("link", name=XSS_NAME, exact=True).click()
    expect(page.locator("h1")).to_have_text(XSS_NAME)
    expect(page.locator("table.kv").nth(0)).to_contain_text(XSS_IMG)  # params
    expect(page.locator("table.kv").nth(1)).to_contain_text(XSS_IMG)  # tags
    markdown = page.locator(".markdown")
    expect(markdown.locator("h3")).to_have_text("Notes")
    expect(markdown.locator("strong")).to_have_text("bold")
    expect(markdown).to_contain_text("<script>window.__xss=4</script>")
    expect(markdown).to_contain_text(XSS_IMG)
    assert markdown.locator("a").count() == 0  # a javascript: link is not made a link
    assert page.locator("#app img, #app script").count() == 0
    assert page.evaluate("window.__xss") is None


def test_a_value_logged_after_the_page_loaded_appears_without_reload(tab: Tab, site: Site) -> None:
    from playwright.sync_api import expect

    client = TrackingClient(site.uri)
    run = client.create_run(site.experiment, run_name="live-run")
    rid = run.info.run_id
    client.log_metric(rid, "loss", 1.0, step=0)
    page = tab.goto(f"#/runs/{rid}")
    expect(page.locator(".run-header .status")).to_have_text("RUNNING")
    expect(page.locator('figure[data-key="loss"]')).to_contain_text("1 point")
    client.log_metric(rid, "loss", 0.5, step=1)
    client.log_metric(rid, "late_metric", 42.5, step=0)
    expect(page.locator('figure[data-key="late_metric"]')).to_be_visible(timeout=10_000)
    expect(page.locator('figure[data-key="loss"]')).to_contain_text("2 points", timeout=10_000)
    expect(page.locator("table.grid.compact").first).to_contain_text("42.5")
    client.set_terminated(rid, "FINISHED")
    expect(page.locator(".run-header .status")).to_have_text("FINISHED", timeout=10_000)


@pytest.mark.slow
def test_a_run_killed_with_sigkill_turns_killed_on_its_page(tab: Tab, site: Site) -> None:
    from playwright.sync_api import expect

    with children() as procs:
        child = procs.start(
            f"""
            import time
            import runstack as mlflow

            run = mlflow.start_run(experiment_id="{site.experiment}", run_name="doomed")
            mlflow.log_metric("loss", 1.0, step=0)
            print("RUN", run.info.run_id, flush=True)
            time.sleep(120)
            """,
            env={"MLFLOW_TRACKING_URI": site.url, **FAST_HEARTBEAT},
        )
        rid = child.read_value("RUN")
        page = tab.goto(f"#/runs/{rid}")
        expect(page.locator(".run-header .status")).to_have_text("RUNNING")
        started = time.monotonic()
        child.kill()
    expect(page.locator(".run-header .status")).to_have_text("KILLED", timeout=20_000)
    assert time.monotonic() - started < 20
    expect(page.locator("dl.facts")).to_contain_text(re.compile("KILLED"))


def test_errors_from_the_server_are_shown_not_a_blank_page(tab: Tab) -> None:
    from playwright.sync_api import expect

    tab.watch.allow("404")  # the run that does not exist
    page = tab.goto("#/runs/0123456789abcdef0123456789abcdef")
    expect(page.get_by_role("alert")).to_contain_text("0123456789abcdef0123456789abcdef")
    page = tab.goto("#/no/such/page")
    expect(page.get_by_role("alert")).to_contain_text("No page at")
    expect(page.get_by_role("link", name="All experiments")).to_be_visible()


def test_a_read_only_server_offers_no_changes(browser: Any, site: Site) -> None:
    from playwright.sync_api import expect

    with runstack_server(site.uri, {}, "--read-only") as url:
        tab = Tab(browser, Site(url, site.uri, site.experiment, site.runs))
        try:
            page = tab.goto("#/")
            expect(page.locator("#readonly")).to_be_visible()
            expect(page.get_by_role("link", name="ui-test", exact=True)).to_be_visible()
            expect(page.get_by_role("button", name="New experiment")).to_have_count(0)
            expect(page.get_by_role("button", name="Delete")).to_have_count(0)
            page = tab.goto(f"#/experiments/{site.experiment}")
            page.get_by_role("checkbox", name="Select run alpha").check()
            expect(page.get_by_role("link", name="Compare 1")).to_be_visible()
            expect(page.get_by_role("button", name="Delete")).to_have_count(0)
            assert tab.watch.unexpected() == []
        finally:
            tab.context.close()


def test_page_modules_csv_smoothing_markdown_and_colours(tab: Tab) -> None:
    """The small pure modules, run in the page itself (imported as the page imports them)."""
    page = tab.goto("#/")
    result = page.evaluate(
        """async () => {
            const main = document.querySelector('script[type=module]').src;
            const base = main.replace(/main\\.js$/, '');
            const csv = await import(base + 'csv.js');
            const smoothing = await import(base + 'charts/smoothing.js');
            const markdown = await import(base + 'markdown.js');
            const colors = await import(base + 'charts/colors.js');
            const box = document.createElement('div');
            box.append(markdown.renderMarkdown(
                '# T\\n\\n[ok](https://example.org) [bad](javascript:alert(1)) ' +
                '[data](data:text/html,x) <b>raw</b>\\n\\n- a\\n- b\\n\\n```\\n<i>code</i>\\n```'));
            return {
                csv: csv.toCsv(['a', 'b'], [['x,y', '=1+2'], ['say "hi"', '-3']]),
                ema: smoothing.ema([1, 1, null, 3], 0.5),
                links: [...box.querySelectorAll('a')].map((a) => a.getAttribute('href')),
                text: box.textContent,
                tags: [...box.querySelectorAll('*')].map((e) => e.tagName.toLowerCase()),
                colour: [colors.colorFor('abc'), colors.colorFor('abc'), colors.colorFor('abd')],
            };
        }"""
    )
    assert result["csv"] == 'a,b\r\n"x,y",\'=1+2\r\n"say ""hi""",-3\r\n'
    assert result["ema"][0] == 1 and result["ema"][1] == 1 and result["ema"][2] is None
    assert 1 < result["ema"][3] < 3
    assert result["links"] == ["https://example.org"]
    assert "<b>raw</b>" in result["text"] and "<i>code</i>" in result["text"]
    assert "bad (javascript:alert(1))" in result["text"]
    assert set(result["tags"]) <= {"h3", "p", "a", "ul", "li", "pre", "code"}
    assert result["colour"][0] == result["colour"][1]


def test_keyboard_alone_filters_opens_and_cancels(tab: Tab, site: Site) -> None:
    from playwright.sync_api import expect

    page = tab.goto(f"#/experiments/{site.experiment}")
    box = page.get_by_label("Filter runs (search grammar)")
    box.focus()
    page.keyboard.type("params.optimizer = 'sgd'")
    page.keyboard.press("Enter")
    expect(page.locator("table.runs-table tbody tr")).to_have_count(1)
    # The column picker opens and closes from the keyboard, focus back on its button.
    picker = page.get_by_role("button", name="Columns…")
    picker.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Search keys")).to_be_focused()
    page.keyboard.press("Escape")
    expect(picker).to_be_focused()
    expect(page.get_by_role("dialog", name="Choose columns")).to_be_hidden()
    # Tab reaches the run's link; Enter opens it.
    page.get_by_role("checkbox", name="Select run beta").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="beta", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("beta")
    # A confirmation dialog is cancelled with Escape and changes nothing.
    page = tab.goto("#/")
    row = page.locator("tr", has=page.get_by_role("link", name="ui-test", exact=True))
    row.get_by_role("button", name="Delete").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(row).to_be_visible()
