"""Authentication and permissions: ``users`` (scrypt password hashes), ``api_tokens``
(SHA-256 digests of random tokens, revocable, optional expiry) and
``experiment_permissions`` (READ, EDIT, MANAGE or NO_PERMISSIONS per user and experiment).

New tables only; the downgrade drops them (and every user, token and grant with them).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("username", sa.String(255), primary_key=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("token_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column(
            "username",
            sa.String(255),
            sa.ForeignKey("users.username", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("expiry_time", sa.BigInteger, nullable=True),
        sa.Column("revoked_time", sa.BigInteger, nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "experiment_permissions",
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "username",
            sa.String(255),
            sa.ForeignKey("users.username", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("permission", sa.String(20), nullable=False),
        sa.CheckConstraint(
            "permission IN ('READ', 'EDIT', 'MANAGE', 'NO_PERMISSIONS')",
            name="ck_experiment_permissions_permission",
        ),
    )
    op.create_index("ix_experiment_permissions_user", "experiment_permissions", ["username"])


def downgrade() -> None:
    op.drop_index("ix_experiment_permissions_user", "experiment_permissions")
    op.drop_table("experiment_permissions")
    op.drop_table("api_tokens")
    op.drop_table("users")
