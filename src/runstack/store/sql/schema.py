"""The SQL schema shared by SQLite and PostgreSQL.

These table objects are the single source of truth for the store's queries; the Alembic
migrations in ``migrations/versions`` create exactly these tables. A test compares the two.

Times are integer milliseconds since the Unix epoch. Experiment ids are integers in the
database and strings in the API (as MLflow).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)

metadata = MetaData()

RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
LIFECYCLE_STAGES = ("active", "deleted")

# How a metric value is encoded: SQLite folds -0.0 into 0.0 and stores NaN as NULL, so the
# exact value needs one more bit of information than the float column holds.
VALUE_KIND_NUMBER = 0
VALUE_KIND_NAN = 1
VALUE_KIND_NEGATIVE_ZERO = 2


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(500), nullable=False, unique=True),
    # NULL means "the store's default artifact root / <experiment_id>" (used by "Default").
    Column("artifact_location", Text, nullable=True),
    Column("lifecycle_stage", String(20), nullable=False, server_default="active"),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    Column("deleted_time", BigInteger, nullable=True),
    CheckConstraint(_in("lifecycle_stage", LIFECYCLE_STAGES), name="ck_experiments_lifecycle"),
    sqlite_autoincrement=True,
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(250), nullable=False),
    Column("user_id", String(256), nullable=False),
    Column("status", String(9), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("artifact_uri", Text, nullable=False),
    Column("lifecycle_stage", String(20), nullable=False, server_default="active"),
    Column("deleted_time", BigInteger, nullable=True),
    # True when the run was hidden by deleting its experiment (so restoring the experiment
    # brings back exactly these runs and not the ones deleted on their own).
    Column("deleted_with_experiment", Boolean, nullable=False, server_default="0"),
    # Liveness lease: the owning process renews heartbeat_time every interval; a RUNNING run
    # whose heartbeat_deadline has passed is dead. NULL deadline: nobody promised heartbeats
    # (client-created runs, MLflow's own client), so the run is never reaped.
    Column("heartbeat_time", BigInteger, nullable=True),
    Column("heartbeat_deadline", BigInteger, nullable=True),
    CheckConstraint(_in("status", RUN_STATUSES), name="ck_runs_status"),
    CheckConstraint(_in("lifecycle_stage", LIFECYCLE_STAGES), name="ck_runs_lifecycle"),
)
Index("ix_runs_experiment_start", runs.c.experiment_id, runs.c.start_time)
Index("ix_runs_status_deadline", runs.c.status, runs.c.heartbeat_deadline)
# The web UI's experiment list: run counts per status and the last end, read from the index
# alone (migration 0006); 100,000 runs in ~35 ms instead of ~240 ms through the table.
Index(
    "ix_runs_experiment_activity",
    runs.c.experiment_id,
    runs.c.lifecycle_stage,
    runs.c.status,
    runs.c.end_time,
)

params = Table(
    "params",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

# Search indexes (migrations 0002, 0003). PostgreSQL caps B-tree entries at ~2.7 kB while
# values may hold 8,000 characters, so whole values are indexed on SQLite only; PostgreSQL
# indexes the first VALUE_PREFIX_CHARS characters, which search compares for exact values.
VALUE_PREFIX_CHARS = 200
for _table in (params, tags):
    Index(f"ix_{_table.name}_key_value", _table.c.key, _table.c.value, _table.c.run_id).ddl_if(
        dialect="sqlite"
    )
    Index(f"ix_{_table.name}_key_run", _table.c.key, _table.c.run_id).ddl_if(dialect="postgresql")
    Index(
        f"ix_{_table.name}_key_prefix",
        _table.c.key,
        func.left(_table.c.value, VALUE_PREFIX_CHARS),
        _table.c.run_id,
    ).ddl_if(dialect="postgresql")

# The metric history is packed (``packing.py``) so that a logging call writes one history row
# whatever the number of points, in two tables:
# - ``metric_log``: one row per logging call (any keys), numbered in logging order by ``seq``;
#   new points wait here until their run is folded;
# - ``metric_blocks``: one row per (run, key, fold), that key's points from the folded calls,
#   each with its call's ``seq``, so reading one key's history reads only that key's blocks.
# Folding (``writes.fold_run``) moves a run's log rows into blocks and brings
# ``latest_metrics`` up to date: every few thousand points or hundred calls (``store.py``),
# when the run ends, and before a search that filters or sorts on metrics. Reads merge in the
# log rows still waiting.
metric_log = Table(
    "metric_log",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("n_points", Integer, nullable=False),
    Column("points", LargeBinary, nullable=False),
    sqlite_autoincrement=True,
)
Index("ix_metric_log_run_seq", metric_log.c.run_id, metric_log.c.seq)

metric_blocks = Table(
    "metric_blocks",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("first_seq", BigInteger, primary_key=True, autoincrement=False),
    Column("n_points", Integer, nullable=False),
    Column("points", LargeBinary, nullable=False),
)

# One row per metric_blocks row (same run, key, first_seq): the block's count, step range,
# lowest and highest value, and per-chunk summaries (``block_summary.py``), so that a chart
# of a long history and a run's per-key min/max/count read these instead of the points
# (migration 0006). Written by the same fold that writes the block.
metric_summaries = Table(
    "metric_summaries",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("first_seq", BigInteger, primary_key=True, autoincrement=False),
    Column("n_points", Integer, nullable=False),
    Column("min_step", BigInteger, nullable=False),
    Column("max_step", BigInteger, nullable=False),
    Column("min_value", Float(53), nullable=True),
    Column("max_value", Float(53), nullable=True),
    Column("chunks", LargeBinary, nullable=False),
)

# One row per (run, key): the value at the highest step, then the latest timestamp, then the
# one logged last. Brought up to date when the run's log is folded (see above).
latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Float(53), nullable=True),
    Column("value_kind", SmallInteger, nullable=False, server_default="0"),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
)
Index(
    "ix_latest_metrics_key_value",
    latest_metrics.c.key,
    latest_metrics.c.value,
    latest_metrics.c.run_id,
)

# Dataset inputs (migration 0005). A dataset belongs to an experiment and is identified there
# by (name, digest): runs of the experiment that log the same dataset share its row. A run's
# use of a dataset is one ``run_inputs`` row (at most one per dataset), whose ``input_id``
# increases in logging order, with that use's tags (such as ``mlflow.data.context``).
datasets = Table(
    "datasets",
    metadata,
    Column("dataset_id", Integer, primary_key=True, autoincrement=True),
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(500), nullable=False),
    Column("digest", String(36), nullable=False),
    Column("source_type", String(36), nullable=False),
    Column("source", Text, nullable=False),
    Column("schema", Text, nullable=True),
    Column("profile", Text, nullable=True),
    UniqueConstraint("experiment_id", "name", "digest", name="uq_datasets_experiment_name_digest"),
    sqlite_autoincrement=True,
)

run_inputs = Table(
    "run_inputs",
    metadata,
    Column("input_id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column(
        "dataset_id",
        Integer,
        ForeignKey("datasets.dataset_id", ondelete="CASCADE"),
        nullable=False,
    ),
    UniqueConstraint("run_id", "dataset_id", name="uq_run_inputs_run_dataset"),
    sqlite_autoincrement=True,
)
# Deleting a dataset (with its experiment) finds its inputs through this index.
Index("ix_run_inputs_dataset", run_inputs.c.dataset_id)

input_tags = Table(
    "input_tags",
    metadata,
    Column(
        "input_id",
        Integer,
        ForeignKey("run_inputs.input_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(255), primary_key=True),
    Column("value", String(500), nullable=False),
)

# Authentication and permissions (runstack.auth; docs/security.md). Only hashes are stored:
# passwords as scrypt digests with their own salt, API tokens as SHA-256 digests.
PERMISSIONS = ("READ", "EDIT", "MANAGE", "NO_PERMISSIONS")

users = Table(
    "users",
    metadata,
    Column("username", String(255), primary_key=True),
    Column("password_hash", String(255), nullable=False),
    Column("is_admin", Boolean, nullable=False, server_default="0"),
    Column("creation_time", BigInteger, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("name", String(255), nullable=False),
    Column(
        "username",
        String(255),
        ForeignKey("users.username", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("creation_time", BigInteger, nullable=False),
    Column("expiry_time", BigInteger, nullable=True),
    Column("revoked_time", BigInteger, nullable=True),
    sqlite_autoincrement=True,
)

experiment_permissions = Table(
    "experiment_permissions",
    metadata,
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "username",
        String(255),
        ForeignKey("users.username", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("permission", String(20), nullable=False),
    CheckConstraint(_in("permission", PERMISSIONS), name="ck_experiment_permissions_permission"),
)
# "What may this user read?" (searches) reads by user.
Index("ix_experiment_permissions_user", experiment_permissions.c.username)
