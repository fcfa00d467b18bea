"""Dataset inputs: datasets per experiment, the runs that used them, and each use's tags.

A dataset is identified within its experiment by (name, digest), so runs that log the same
dataset share one row. ``run_inputs`` holds one row per (run, dataset); its ``input_id``
increases in logging order. ``input_tags`` holds the tags of one use (the context is the tag
``mlflow.data.context``). Everything cascades from experiments and runs.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("dataset_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("digest", sa.String(36), nullable=False),
        sa.Column("source_type", sa.String(36), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("schema", sa.Text, nullable=True),
        sa.Column("profile", sa.Text, nullable=True),
        sa.UniqueConstraint(
            "experiment_id", "name", "digest", name="uq_datasets_experiment_name_digest"
        ),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "run_inputs",
        sa.Column("input_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "run_id",
            sa.String(32),
            sa.ForeignKey("runs.run_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "dataset_id",
            sa.Integer,
            sa.ForeignKey("datasets.dataset_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.UniqueConstraint("run_id", "dataset_id", name="uq_run_inputs_run_dataset"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_run_inputs_dataset", "run_inputs", ["dataset_id"])
    op.create_table(
        "input_tags",
        sa.Column(
            "input_id",
            sa.Integer,
            sa.ForeignKey("run_inputs.input_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", sa.String(500), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("input_tags")
    op.drop_index("ix_run_inputs_dataset", "run_inputs")
    op.drop_table("run_inputs")
    op.drop_table("datasets")
