"""Users, API tokens and grants in the store's database (migration 0007), on SQLite and
PostgreSQL: hashes only, constant answers for unknown users, revocation and expiry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from runstack.auth import passwords, tokens
from runstack.auth.permissions import Permission
from runstack.auth.store import AuthStore
from runstack.clock import now_ms
from runstack.errors import (
    InvalidParameterError,
    ResourceAlreadyExistsError,
    ResourceNotFoundError,
)
from runstack.store import open_store
from runstack.store.sql import migrate
from runstack.store.sql.database import Database
from runstack.store.sql.schema import api_tokens


@pytest.fixture
def auth(store_uri: str) -> Iterator[AuthStore]:
    store = AuthStore.open(store_uri)
    yield store
    store.close()


def test_password_is_stored_as_a_salted_scrypt_hash(auth: AuthStore) -> None:
    auth.create_user("alice", "correct horse")
    auth.create_user("bob", "correct horse")
    stored = auth.db.read(
        lambda tx: tx.all(sa.text("SELECT username, password_hash FROM users ORDER BY username"))
    )
    assert [row[1].split("$")[0] for row in stored] == ["scrypt", "scrypt"]
    assert stored[0][1] != stored[1][1]  # per-user salt
    assert all("correct horse" not in row[1] for row in stored)
    assert auth.verify_password("alice", "correct horse") is not None
    assert auth.verify_password("alice", "wrong horse!") is None
    assert auth.verify_password("nobody", "correct horse") is None


def test_bad_users_are_refused_and_nothing_is_written(auth: AuthStore) -> None:
    with pytest.raises(InvalidParameterError, match="8 to 1024 characters"):
        auth.create_user("alice", "short")
    with pytest.raises(InvalidParameterError, match="Invalid username"):
        auth.create_user("al ice", "long enough")
    with pytest.raises(InvalidParameterError, match="Invalid username"):
        auth.create_user("", "long enough")
    assert auth.list_users() == []
    auth.create_user("alice", "long enough", is_admin=True)
    with pytest.raises(ResourceAlreadyExistsError):
        auth.create_user("alice", "other password")
    [alice] = auth.list_users()
    assert alice.is_admin


def test_set_password_and_delete(auth: AuthStore) -> None:
    auth.create_user("alice", "first password")
    auth.set_password("alice", "second password")
    assert auth.verify_password("alice", "first password") is None
    assert auth.verify_password("alice", "second password") is not None
    secret, _ = auth.create_token("alice", "ci")
    auth.grant("0", "alice", Permission.EDIT)
    auth.delete_user("alice")
    assert auth.verify_token(secret) is None
    assert auth.list_grants() == []
    with pytest.raises(ResourceNotFoundError):
        auth.delete_user("alice")
    with pytest.raises(ResourceNotFoundError):
        auth.set_password("alice", "third password")


def test_tokens_are_stored_hashed_revocable_and_expire(auth: AuthStore) -> None:
    auth.create_user("alice", "long enough")
    secret, info = auth.create_token("alice", "laptop")
    assert secret.startswith(tokens.PREFIX)
    stored = auth.db.read(lambda tx: tx.all(sa.text("SELECT token_hash FROM api_tokens")))
    assert [row[0] for row in stored] == [tokens.token_digest(secret)]
    user = auth.verify_token(secret)
    assert user is not None and user.username == "alice"
    assert auth.verify_token(secret + "x") is None
    auth.revoke_token(info.token_id)
    assert auth.verify_token(secret) is None
    assert auth.list_tokens("alice")[0].revoked_time is not None
    short, short_info = auth.create_token("alice", "short", expiry_time=now_ms() + 60_000)
    assert auth.verify_token(short) is not None
    auth.db.write(
        lambda tx: tx.run(
            api_tokens.update()
            .where(api_tokens.c.token_id == short_info.token_id)
            .values(expiry_time=1)
        )
    )
    assert auth.verify_token(short) is None
    with pytest.raises(InvalidParameterError, match="not in the future"):
        auth.create_token("alice", "past", expiry_time=1)
    with pytest.raises(ResourceNotFoundError):
        auth.create_token("nobody", "x")
    with pytest.raises(ResourceNotFoundError):
        auth.revoke_token(999)


def test_grants(auth: AuthStore, store_uri: str) -> None:
    store = open_store(store_uri)
    experiment_id = store.create_experiment("shared", None, [])
    store.close()
    auth.create_user("alice", "long enough")
    assert auth.permission(experiment_id, "alice") is None
    auth.grant(experiment_id, "alice", Permission.READ)
    auth.grant(experiment_id, "alice", Permission.MANAGE)  # replaces
    assert auth.grants("alice") == {experiment_id: Permission.MANAGE}
    auth.revoke(experiment_id, "alice")
    assert auth.grants("alice") == {}
    with pytest.raises(ResourceNotFoundError):
        auth.revoke(experiment_id, "alice")
    with pytest.raises(ResourceNotFoundError, match="experiment"):
        auth.grant("12345", "alice", Permission.READ)
    with pytest.raises(InvalidParameterError, match="ASCII digits"):
        auth.grant("x1", "alice", Permission.READ)
    with pytest.raises(ResourceNotFoundError, match="user"):
        auth.grant(experiment_id, "bob", Permission.READ)


def test_permission_order_and_parsing() -> None:
    assert Permission.MANAGE.allows(Permission.EDIT)
    assert Permission.EDIT.allows(Permission.READ)
    assert not Permission.READ.allows(Permission.EDIT)
    assert not Permission.NO_PERMISSIONS.allows(Permission.READ)
    assert Permission.parse("edit") is Permission.EDIT
    with pytest.raises(ValueError, match="READ, EDIT"):
        Permission.parse("WRITE")


def test_password_hash_rejects_tampering() -> None:
    stored = passwords.hash_password("long enough")
    assert passwords.verify_password("long enough", stored)
    assert not passwords.verify_password("long enough", stored[:-4] + "AAA=")
    assert not passwords.verify_password("long enough", "md5$whatever")


def test_migration_0007_downgrades_and_upgrades(store_uri: str) -> None:
    open_store(store_uri).close()
    db = Database(store_uri)
    config = Config()
    config.set_main_option("script_location", str(Path(migrate.__file__).parent / "migrations"))

    def to(revision: str, down: bool) -> None:
        def work(connection: sa.Connection) -> None:
            config.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(config, revision)

        db.write_with_connection(work)

    def tables() -> set[str]:
        return set(sa.inspect(db.engine).get_table_names())

    to("0006", down=True)
    assert not {"users", "api_tokens", "experiment_permissions"} & tables()
    to("0007", down=False)
    assert {"users", "api_tokens", "experiment_permissions"} <= tables()
    migrate.ensure_schema(db)
    db.close()
    auth = AuthStore.open(store_uri)
    auth.create_user("alice", "long enough")
    assert [u.username for u in auth.list_users()] == ["alice"]
    auth.close()
