"""``runstack users ...`` and ``runstack tokens ...``: the accounts ``runstack server --auth``
accepts, and their permissions, kept in the store's own database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from runstack.auth.permissions import Permission
from runstack.cli.output import emit, format_option, when
from runstack.errors import InvalidParameterError
from runstack.tracking_uri import get_tracking_uri, normalise_uri

if TYPE_CHECKING:
    from runstack.auth.store import AuthStore

F = TypeVar("F", bound=Callable[..., Any])

_store_option = click.option(
    "--backend-store-uri",
    envvar="MLFLOW_TRACKING_URI",
    default=None,
    metavar="URI",
    help="The server's store (sqlite:///path or postgresql://...) "
    "[default: $MLFLOW_TRACKING_URI, else ./runstack.db].",
)
_password_option = click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="The password (8 to 1024 characters); prompted for (or read from standard input) "
    "when not given.",
)


@contextmanager
def _auth_store(uri: str | None) -> Iterator[AuthStore]:
    resolved = normalise_uri(uri) if uri else get_tracking_uri()
    if resolved.split("://", 1)[0].lower() in ("http", "https"):
        raise InvalidParameterError(
            f"{resolved!r} is a tracking server; users live in its database: pass the "
            "server's --backend-store-uri (sqlite:///... or postgresql://...)."
        )
    from runstack.auth.store import AuthStore

    store = AuthStore.open(resolved)
    try:
        yield store
    finally:
        store.close()


@click.group()
def users() -> None:
    """Create, list and delete the users of `runstack server --auth`; grant permissions."""


@users.command("create")
@_store_option
@click.argument("username")
@_password_option
@click.option("--admin", is_flag=True, help="An admin may do everything, in every experiment.")
def create_user(backend_store_uri: str | None, username: str, password: str, admin: bool) -> None:
    """Create a user (with a password hashed by scrypt)."""
    with _auth_store(backend_store_uri) as store:
        store.create_user(username, password, is_admin=admin)
    click.echo(f"Created {'admin ' if admin else ''}user {username}.")


@users.command("list")
@_store_option
@format_option
def list_users(backend_store_uri: str | None, output_format: str) -> None:
    """List users and their grants."""
    with _auth_store(backend_store_uri) as store:
        found = store.list_users()
        grants: dict[str, list[str]] = {}
        for experiment_id, username, permission in store.list_grants():
            grants.setdefault(username, []).append(f"{experiment_id}:{permission.name}")
    rows = [
        (
            u.username,
            "yes" if u.is_admin else "",
            when(u.creation_time),
            " ".join(grants.get(u.username, [])),
        )
        for u in found
    ]
    emit(("username", "admin", "created", "grants"), rows, output_format)


@users.command("delete")
@_store_option
@click.argument("username")
def delete_user(backend_store_uri: str | None, username: str) -> None:
    """Delete a user, their tokens and grants."""
    with _auth_store(backend_store_uri) as store:
        store.delete_user(username)
    click.echo(f"Deleted user {username}.")


@users.command("set-password")
@_store_option
@click.argument("username")
@_password_option
def set_password(backend_store_uri: str | None, username: str, password: str) -> None:
    """Change a user's password (servers accept the old one until their cache expires, 60 s)."""
    with _auth_store(backend_store_uri) as store:
        store.set_password(username, password)
    click.echo(f"Changed the password of {username}.")


@users.command("grant")
@_store_option
@click.argument("username")
@click.argument("experiment_id")
@click.argument("permission", type=click.Choice([p.name for p in Permission], case_sensitive=False))
def grant(
    backend_store_uri: str | None, username: str, experiment_id: str, permission: str
) -> None:
    """Give USERNAME PERMISSION (READ, EDIT, MANAGE, NO_PERMISSIONS) on an experiment."""
    with _auth_store(backend_store_uri) as store:
        store.grant(experiment_id, username, Permission.parse(permission))
    click.echo(f"{username} has {permission.upper()} on experiment {experiment_id}.")


@users.command("revoke")
@_store_option
@click.argument("username")
@click.argument("experiment_id")
def revoke(backend_store_uri: str | None, username: str, experiment_id: str) -> None:
    """Remove USERNAME's grant on an experiment (the server's default applies again)."""
    with _auth_store(backend_store_uri) as store:
        store.revoke(experiment_id, username)
    click.echo(f"Removed {username}'s grant on experiment {experiment_id}.")


@click.group()
def tokens() -> None:
    """Create, list and revoke API tokens (MLFLOW_TRACKING_TOKEN) for `runstack server --auth`."""


@tokens.command("create")
@_store_option
@click.argument("username")
@click.option("--name", required=True, help="What the token is for (shown by `tokens list`).")
@click.option(
    "--expires-in-days",
    type=click.IntRange(1, 36500),
    default=None,
    help="Days until the token stops working [default: never].",
)
def create_token(
    backend_store_uri: str | None, username: str, name: str, expires_in_days: int | None
) -> None:
    """Create a token for USERNAME; it is printed once and never stored (only its hash)."""
    expiry = None
    if expires_in_days is not None:
        expiry = int(
            (dt.datetime.now(dt.UTC) + dt.timedelta(days=expires_in_days)).timestamp() * 1000
        )
    with _auth_store(backend_store_uri) as store:
        secret, info = store.create_token(username, name, expiry_time=expiry)
    click.echo(f"Token {info.token_id} for {username} ({name}); it is shown only now:", err=True)
    click.echo(secret)


@tokens.command("list")
@_store_option
@click.option("--user", "username", default=None, help="Only this user's tokens.")
@format_option
def list_tokens(backend_store_uri: str | None, username: str | None, output_format: str) -> None:
    """List tokens (never their secrets)."""
    with _auth_store(backend_store_uri) as store:
        found = store.list_tokens(username)
    rows = [
        (
            t.token_id,
            t.username,
            t.name,
            when(t.creation_time),
            when(t.expiry_time),
            when(t.revoked_time),
        )
        for t in found
    ]
    emit(("id", "user", "name", "created", "expires", "revoked"), rows, output_format)


@tokens.command("revoke")
@_store_option
@click.argument("token_id", type=click.IntRange(1))
def revoke_token(backend_store_uri: str | None, token_id: int) -> None:
    """Revoke a token by its id (servers may accept it until their cache expires, 60 s)."""
    with _auth_store(backend_store_uri) as store:
        store.revoke_token(token_id)
    click.echo(f"Revoked token {token_id}.")
