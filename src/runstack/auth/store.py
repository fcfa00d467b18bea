"""Users, API tokens and experiment permissions in the store's own database.

Every method is one short transaction. Input is checked before the database sees it, with
``InvalidParameterError`` naming the value and the rule; a missing user, token or experiment
is ``ResourceNotFoundError``.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

import sqlalchemy as sa

from runstack.auth import passwords, tokens
from runstack.auth.permissions import Permission
from runstack.clock import now_ms
from runstack.errors import (
    InvalidParameterError,
    ResourceAlreadyExistsError,
    ResourceNotFoundError,
)
from runstack.store.sql import migrate
from runstack.store.sql.database import Database, Tx
from runstack.store.sql.schema import (
    api_tokens,
    experiment_permissions,
    experiments,
    runs,
    users,
)

_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,254}")
_TOKEN_NAME_MAX = 255


@dataclass(frozen=True)
class User:
    username: str
    is_admin: bool
    creation_time: int


@dataclass(frozen=True)
class TokenInfo:
    token_id: int
    name: str
    username: str
    creation_time: int
    expiry_time: int | None
    revoked_time: int | None


def check_username(username: str) -> str:
    """``username`` if it is 1-255 letters, digits and ``._@+-`` (not starting with one of
    the punctuation marks); else InvalidParameterError."""
    if not isinstance(username, str) or not _USERNAME.fullmatch(username):
        raise InvalidParameterError(
            f"Invalid username {username!r}: use 1 to 255 letters, digits and . _ @ + -, "
            "starting with a letter or digit."
        )
    return username


def _check_password(password: str) -> str:
    try:
        passwords.check_password_rule(password)
    except ValueError as error:
        raise InvalidParameterError(str(error)) from None
    return password


def _experiment_number(experiment_id: str) -> int:
    if not (
        isinstance(experiment_id, str)
        and experiment_id.isascii()
        and experiment_id.isdigit()
        and len(experiment_id) <= 18
    ):
        raise InvalidParameterError(
            f"Invalid experiment id {experiment_id!r}: an experiment id is ASCII digits."
        )
    return int(experiment_id)


class AuthStore:
    """Reads and changes users, tokens and grants (the server and ``runstack users``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    def open(cls, uri: str) -> AuthStore:
        """Over the SQL store at ``uri`` (its schema created if the database is empty)."""
        db = Database(uri)
        try:
            migrate.ensure_schema(db)
        except BaseException:
            db.close()
            raise
        return cls(db)

    def close(self) -> None:
        self.db.close()

    # -- users -------------------------------------------------------------------------

    def create_user(self, username: str, password: str, *, is_admin: bool = False) -> User:
        check_username(username)
        digest = passwords.hash_password(_check_password(password))
        created = now_ms()

        def insert(tx: Tx) -> None:
            if tx.first(sa.select(users.c.username).where(users.c.username == username)):
                raise ResourceAlreadyExistsError(f"User {username!r} already exists.")
            tx.run(
                users.insert().values(
                    username=username,
                    password_hash=digest,
                    is_admin=is_admin,
                    creation_time=created,
                )
            )

        self.db.write(insert)
        return User(username, is_admin, created)

    def get_user(self, username: str) -> User | None:
        row = self.db.read(
            lambda tx: tx.first(
                sa.select(users.c.username, users.c.is_admin, users.c.creation_time).where(
                    users.c.username == username
                )
            )
        )
        return None if row is None else User(row[0], bool(row[1]), row[2])

    def list_users(self) -> list[User]:
        rows = self.db.read(
            lambda tx: tx.all(
                sa.select(users.c.username, users.c.is_admin, users.c.creation_time).order_by(
                    users.c.username
                )
            )
        )
        return [User(r[0], bool(r[1]), r[2]) for r in rows]

    def delete_user(self, username: str) -> None:
        """Delete the user with their tokens and grants."""

        def delete(tx: Tx) -> None:
            tx.run(
                experiment_permissions.delete().where(experiment_permissions.c.username == username)
            )
            tx.run(api_tokens.delete().where(api_tokens.c.username == username))
            if tx.run(users.delete().where(users.c.username == username)) == 0:
                raise ResourceNotFoundError(f"No user {username!r}.")

        self.db.write(delete)

    def set_password(self, username: str, password: str) -> None:
        digest = passwords.hash_password(_check_password(password))
        self._update_user(username, password_hash=digest)

    def set_admin(self, username: str, is_admin: bool) -> None:
        self._update_user(username, is_admin=is_admin)

    def _update_user(self, username: str, **values: object) -> None:
        def update(tx: Tx) -> None:
            if tx.run(users.update().where(users.c.username == username).values(**values)) == 0:
                raise ResourceNotFoundError(f"No user {username!r}.")

        self.db.write(update)

    def verify_password(self, username: str, password: str) -> User | None:
        """The user if ``password`` is theirs; None otherwise, in the same time whether or
        not the user exists."""
        row = self.db.read(
            lambda tx: tx.first(
                sa.select(
                    users.c.username,
                    users.c.is_admin,
                    users.c.creation_time,
                    users.c.password_hash,
                ).where(users.c.username == username)
            )
        )
        stored = passwords.dummy_hash() if row is None else row[3]
        matches = passwords.verify_password(password, stored)
        return User(row[0], bool(row[1]), row[2]) if row is not None and matches else None

    # -- tokens ------------------------------------------------------------------------

    def create_token(
        self, username: str, name: str, *, expiry_time: int | None = None
    ) -> tuple[str, TokenInfo]:
        """A new token for ``username``: the secret (shown once, never stored) and its record."""
        if not isinstance(name, str) or not 1 <= len(name) <= _TOKEN_NAME_MAX:
            raise InvalidParameterError(
                f"Invalid token name {name!r}: use 1 to {_TOKEN_NAME_MAX} characters."
            )
        created = now_ms()
        if expiry_time is not None and expiry_time <= created:
            raise InvalidParameterError(
                f"Token expiry {expiry_time} ms is not in the future (now is {created} ms)."
            )
        secret = tokens.new_token()

        def insert(tx: Tx) -> int:
            if not tx.first(sa.select(users.c.username).where(users.c.username == username)):
                raise ResourceNotFoundError(f"No user {username!r}.")
            tx.run(
                api_tokens.insert().values(
                    token_hash=tokens.token_digest(secret),
                    name=name,
                    username=username,
                    creation_time=created,
                    expiry_time=expiry_time,
                )
            )
            return int(
                tx.scalar(
                    sa.select(sa.func.max(api_tokens.c.token_id)).where(
                        api_tokens.c.username == username
                    )
                )
            )

        token_id = self.db.write(insert)
        return secret, TokenInfo(token_id, name, username, created, expiry_time, None)

    def list_tokens(self, username: str | None = None) -> list[TokenInfo]:
        c = api_tokens.c
        query = sa.select(
            c.token_id, c.name, c.username, c.creation_time, c.expiry_time, c.revoked_time
        ).order_by(c.token_id)
        if username is not None:
            query = query.where(c.username == username)
        return [TokenInfo(*row) for row in self.db.read(lambda tx: tx.all(query))]

    def revoke_token(self, token_id: int) -> None:
        c = api_tokens.c

        def revoke(tx: Tx) -> None:
            done = tx.run(
                api_tokens.update()
                .where(c.token_id == token_id, c.revoked_time.is_(None))
                .values(revoked_time=now_ms())
            )
            if done == 0 and not tx.first(sa.select(c.token_id).where(c.token_id == token_id)):
                raise ResourceNotFoundError(f"No token with id {token_id}.")

        self.db.write(revoke)

    def verify_token(self, secret: str) -> User | None:
        """The owner of ``secret`` if it is a live token (not revoked, not expired)."""
        digest = tokens.token_digest(secret)
        c = api_tokens.c
        row = self.db.read(
            lambda tx: tx.first(
                sa.select(
                    c.token_hash,
                    c.expiry_time,
                    c.revoked_time,
                    users.c.username,
                    users.c.is_admin,
                    users.c.creation_time,
                )
                .join(users, users.c.username == c.username)
                .where(c.token_hash == digest)
            )
        )
        if row is None or not hmac.compare_digest(row[0], digest):
            return None
        if row[2] is not None or (row[1] is not None and row[1] <= now_ms()):
            return None
        return User(row[3], bool(row[4]), row[5])

    # -- permissions -------------------------------------------------------------------

    def grant(
        self,
        experiment_id: str,
        username: str,
        permission: Permission,
        *,
        existing: bool | None = None,
    ) -> None:
        """Give ``username`` ``permission`` on the experiment (replacing an earlier grant).
        ``existing=False``: only a new grant (RESOURCE_ALREADY_EXISTS if there is one, as
        MLflow's create); ``existing=True``: only a change of one (404 if none, as MLflow's
        update)."""
        number = _experiment_number(experiment_id)
        p = experiment_permissions.c

        def upsert(tx: Tx) -> None:
            if not tx.first(sa.select(users.c.username).where(users.c.username == username)):
                raise ResourceNotFoundError(f"No user {username!r}.")
            if not tx.first(
                sa.select(experiments.c.experiment_id).where(experiments.c.experiment_id == number)
            ):
                raise ResourceNotFoundError(f"No experiment with id {experiment_id}.")
            removed = tx.run(
                experiment_permissions.delete().where(
                    p.experiment_id == number, p.username == username
                )
            )
            if existing is False and removed:
                raise ResourceAlreadyExistsError(
                    f"User {username!r} already has a permission on experiment "
                    f"{experiment_id}; change it with experiments/permissions/update."
                )
            if existing is True and not removed:
                raise ResourceNotFoundError(
                    f"User {username!r} has no permission on experiment {experiment_id} to "
                    "update; create it with experiments/permissions/create."
                )
            tx.run(
                experiment_permissions.insert().values(
                    experiment_id=number, username=username, permission=permission.name
                )
            )

        self.db.write(upsert)

    def revoke(self, experiment_id: str, username: str) -> None:
        """Remove ``username``'s grant on the experiment (the default applies again)."""
        number = _experiment_number(experiment_id)
        p = experiment_permissions.c

        def delete(tx: Tx) -> None:
            if (
                tx.run(
                    experiment_permissions.delete().where(
                        p.experiment_id == number, p.username == username
                    )
                )
                == 0
            ):
                raise ResourceNotFoundError(
                    f"User {username!r} has no grant on experiment {experiment_id}."
                )

        self.db.write(delete)

    def permission(self, experiment_id: str, username: str) -> Permission | None:
        """``username``'s grant on the experiment, or None (then the default applies)."""
        p = experiment_permissions.c
        value = self.db.read(
            lambda tx: tx.scalar(
                sa.select(p.permission).where(
                    p.experiment_id == _experiment_number(experiment_id), p.username == username
                )
            )
        )
        return None if value is None else Permission[value]

    def grants(self, username: str) -> dict[str, Permission]:
        """Every grant of ``username``: experiment id -> permission."""
        p = experiment_permissions.c
        rows = self.db.read(
            lambda tx: tx.all(
                sa.select(p.experiment_id, p.permission).where(p.username == username)
            )
        )
        return {str(r[0]): Permission[r[1]] for r in rows}

    def list_grants(self) -> list[tuple[str, str, Permission]]:
        """Every grant: (experiment id, username, permission)."""
        p = experiment_permissions.c
        rows = self.db.read(
            lambda tx: tx.all(
                sa.select(p.experiment_id, p.username, p.permission).order_by(
                    p.experiment_id, p.username
                )
            )
        )
        return [(str(r[0]), r[1], Permission[r[2]]) for r in rows]

    # -- lookups for permission checks -------------------------------------------------

    def run_experiments(self, run_ids: list[str]) -> dict[str, str]:
        """run id -> experiment id, for the runs of ``run_ids`` that exist."""
        if not run_ids:
            return {}
        rows = self.db.read(
            lambda tx: tx.all(
                sa.select(runs.c.run_id, runs.c.experiment_id).where(runs.c.run_id.in_(run_ids))
            )
        )
        return {r[0]: str(r[1]) for r in rows}

    def revoke_secret(self, secret: str) -> None:
        """Revoke the token ``secret`` (a web session at logout); unknown ones are ignored."""
        c = api_tokens.c
        digest = tokens.token_digest(secret)
        self.db.write(
            lambda tx: tx.run(
                api_tokens.update()
                .where(c.token_hash == digest, c.revoked_time.is_(None))
                .values(revoked_time=now_ms())
            )
        )
