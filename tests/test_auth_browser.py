"""The web UI's sign-in under ``runstack server --auth`` in a real browser (Debian's Chromium
through Playwright): a browser without a session is sent to /login, a wrong password is
shown as an error, the right one lands on the UI with only the experiments the user may
read, and the session cookie is HttpOnly and SameSite=Strict."""

from __future__ import annotations

from pathlib import Path

import pytest

from browser_kit import launch
from browser_support import require_browser, runstack_server
from runstack.auth.permissions import Permission
from runstack.auth.store import AuthStore
from runstack.store import open_store


@pytest.mark.slow
def test_sign_in_page_session_cookie_and_filtered_experiments(tmp_path: Path) -> None:
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    uri = f"sqlite:///{tmp_path}/ui.db"
    store = open_store(uri)
    visible = store.create_experiment("visible-to-alice", None, [])
    store.create_experiment("hidden-from-alice", None, [])
    store.close()
    auth = AuthStore.open(uri)
    auth.create_user("alice", "alice password")
    auth.grant(visible, "alice", Permission.READ)
    auth.close()
    flags = ("--auth", "--auth-default-permission", "NO_PERMISSIONS")
    with runstack_server(uri, {}, *flags) as url, sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            context = chromium.new_context()
            page = context.new_page()
            page.goto(url + "/")
            assert page.url == url + "/login"
            page.get_by_label("Username").fill("alice")
            page.get_by_label("Password").fill("not the password")
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("alert")).to_contain_text("Authentication failed")
            page.get_by_label("Password").fill("alice password")
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(url + "/")
            expect(page.get_by_role("link", name="visible-to-alice", exact=True)).to_be_visible()
            expect(page.get_by_role("link", name="hidden-from-alice", exact=True)).to_have_count(0)
            [cookie] = context.cookies()
            assert cookie["name"] == "runstack_session"
            assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
            assert page.evaluate("document.cookie") == ""  # scripts cannot read it
        finally:
            chromium.close()
