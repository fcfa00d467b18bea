"""``runstack users`` and ``runstack tokens`` on a real store (both databases), and
``runstack server --auth`` counting as authentication for a non-loopback bind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click.testing
import pytest
from click.testing import CliRunner

from runstack.auth.permissions import Permission
from runstack.auth.store import AuthStore
from runstack.cli import main
from runstack.store import open_store


def run(uri: str, *args: str, stdin: str | None = None) -> click.testing.Result:
    return CliRunner().invoke(main, [*args, "--backend-store-uri", uri], input=stdin)


def test_users_commands(store_uri: str) -> None:
    created = run(store_uri, "users", "create", "alice", "--password", "alice password", "--admin")
    assert created.exit_code == 0, created.output
    # Prompted twice (with confirmation) when --password is not given.
    prompted = run(store_uri, "users", "create", "bob", stdin="bob password\nbob password\n")
    assert prompted.exit_code == 0, prompted.output
    short = run(store_uri, "users", "create", "carol", "--password", "short")
    assert short.exit_code == 1 and "8 to 1024 characters" in short.output
    store = open_store(store_uri)
    experiment_id = store.create_experiment("shared", None, [])
    store.close()
    granted = run(store_uri, "users", "grant", "bob", experiment_id, "edit")
    assert granted.exit_code == 0, granted.output
    bad = run(store_uri, "users", "grant", "bob", experiment_id, "WRITE")
    assert bad.exit_code == 2
    listed = run(store_uri, "users", "list", "--format", "csv")
    assert [row.split(",")[0] for row in listed.output.splitlines()[1:]] == ["alice", "bob"]
    assert f"{experiment_id}:EDIT" in listed.output and "alice,yes" in listed.output
    assert run(store_uri, "users", "set-password", "bob", "--password", "new bob pw").exit_code == 0
    auth = AuthStore.open(store_uri)
    try:
        assert auth.verify_password("bob", "new bob pw") is not None
        assert auth.grants("bob") == {experiment_id: Permission.EDIT}
        assert run(store_uri, "users", "revoke", "bob", experiment_id).exit_code == 0
        assert auth.grants("bob") == {}
        assert run(store_uri, "users", "delete", "bob").exit_code == 0
        assert [u.username for u in auth.list_users()] == ["alice"]
        missing = run(store_uri, "users", "delete", "bob")
        assert missing.exit_code == 1 and "No user 'bob'" in missing.output
    finally:
        auth.close()


def test_tokens_commands(store_uri: str) -> None:
    assert run(store_uri, "users", "create", "alice", "--password", "alice password").exit_code == 0
    created = run(store_uri, "tokens", "create", "alice", "--name", "ci", "--expires-in-days", "30")
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("rst_")
    listed = run(store_uri, "tokens", "list", "--format", "json")
    assert '"name": "ci"' in listed.output and secret not in listed.output
    auth = AuthStore.open(store_uri)
    try:
        assert auth.verify_token(secret) is not None
        [token] = auth.list_tokens()
        assert run(store_uri, "tokens", "revoke", str(token.token_id)).exit_code == 0
        assert auth.verify_token(secret) is None
    finally:
        auth.close()


def test_a_tracking_server_uri_is_refused(tmp_path: Path) -> None:
    result = run("http://127.0.0.1:5000", "users", "list")
    assert result.exit_code == 1 and "its database" in result.output


def test_auth_counts_as_authentication_for_a_non_loopback_bind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import uvicorn

    from runstack import settings

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    for setting in settings.all_settings():
        if setting.name.startswith("RUNSTACK_SE"):
            monkeypatch.setenv(setting.name, "")
    uri = f"sqlite:///{tmp_path}/r.db"
    args = ["server", "--backend-store-uri", uri, "--host", "0.0.0.0", "--auth"]
    with caplog.at_level("WARNING", logger="runstack.server"):
        result = CliRunner().invoke(main, [*args, "--auth-default-permission", "no_permissions"])
    assert result.exit_code == 0, result.output
    assert seen["host"] == "0.0.0.0"
    assert "WITHOUT AUTHENTICATION" not in caplog.text
    assert "no admin user" in caplog.text
    assert settings.SERVER_AUTH.read() is True
    assert settings.SERVER_AUTH_DEFAULT_PERMISSION.read() == "NO_PERMISSIONS"
