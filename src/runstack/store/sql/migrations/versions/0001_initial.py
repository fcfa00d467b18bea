"""Initial schema: experiments, runs, params, tags, metric history and latest metrics.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATUSES = "status IN ('RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED')"
STAGES = "lifecycle_stage IN ('active', 'deleted')"


def _metric_columns() -> list[sa.Column[object]]:
    return [
        sa.Column(
            "run_id",
            sa.String(32),
            sa.ForeignKey("runs.run_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Float(53), nullable=True),
        sa.Column("value_kind", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
    ]


def upgrade() -> None:
    experiments = op.create_table(
        "experiments",
        sa.Column("experiment_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(500), nullable=False, unique=True),
        sa.Column("artifact_location", sa.Text, nullable=True),
        sa.Column("lifecycle_stage", sa.String(20), nullable=False, server_default="active"),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_update_time", sa.BigInteger, nullable=False),
        sa.Column("deleted_time", sa.BigInteger, nullable=True),
        sa.CheckConstraint(STAGES, name="ck_experiments_lifecycle"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "experiment_tags",
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("status", sa.String(9), nullable=False),
        sa.Column("start_time", sa.BigInteger, nullable=False),
        sa.Column("end_time", sa.BigInteger, nullable=True),
        sa.Column("artifact_uri", sa.Text, nullable=False),
        sa.Column("lifecycle_stage", sa.String(20), nullable=False, server_default="active"),
        sa.Column("deleted_time", sa.BigInteger, nullable=True),
        sa.Column("deleted_with_experiment", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("heartbeat_time", sa.BigInteger, nullable=True),
        sa.Column("heartbeat_deadline", sa.BigInteger, nullable=True),
        sa.CheckConstraint(STATUSES, name="ck_runs_status"),
        sa.CheckConstraint(STAGES, name="ck_runs_lifecycle"),
    )
    op.create_index("ix_runs_experiment_start", "runs", ["experiment_id", "start_time"])
    op.create_index("ix_runs_status_deadline", "runs", ["status", "heartbeat_deadline"])
    for name in ("params", "tags"):
        op.create_table(
            name,
            sa.Column(
                "run_id",
                sa.String(32),
                sa.ForeignKey("runs.run_id", ondelete="CASCADE"),
                primary_key=True,
            ),
            sa.Column("key", sa.String(250), primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        )
    op.create_table(
        "metric_log",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        *_metric_columns(),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_metric_log_run_seq", "metric_log", ["run_id", "seq"])
    op.create_table(
        "metrics",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        *_metric_columns(),
    )
    op.create_index("ix_metrics_run_key_seq", "metrics", ["run_id", "key", "seq"])
    op.create_table(
        "latest_metrics",
        sa.Column(
            "run_id",
            sa.String(32),
            sa.ForeignKey("runs.run_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Float(53), nullable=True),
        sa.Column("value_kind", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
    )
    now = int(time.time() * 1000)
    op.bulk_insert(
        experiments,
        [
            {
                "experiment_id": 0,
                "name": "Default",
                "artifact_location": None,
                "lifecycle_stage": "active",
                "creation_time": now,
                "last_update_time": now,
            }
        ],
    )


def downgrade() -> None:
    for name in (
        "latest_metrics",
        "metrics",
        "metric_log",
        "tags",
        "params",
        "runs",
        "experiment_tags",
    ):
        op.drop_table(name)
    op.drop_table("experiments")
