"""Migration 0004 (packed metric history) keeps every point of a database written by 0003:
values bit for bit, logging order, latest values; new points go after the old ones; and
downgrading brings back the row-per-point tables with the same points."""

from __future__ import annotations

import math
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from runstack.entities import Metric
from runstack.store import open_store
from runstack.store.sql import migrate
from runstack.store.sql.database import Database

RUN_A, RUN_B = "a" * 32, "b" * 32
# (seq, run, key, value, value_kind, timestamp, step) as 0003 stored them; kind 1 is NaN and
# 2 is -0.0. Seqs interleave runs and keys, and some points are still in the log.
COMPACTED = [
    (1, RUN_A, "loss", 0.5, 0, 10, 0),
    (2, RUN_A, "acc", 0.1, 0, 10, 0),
    (3, RUN_B, "loss", 9.0, 0, 11, 0),
    (4, RUN_A, "loss", None, 1, 12, 1),
    (5, RUN_A, "loss", 0.0, 2, 13, 2),
]
IN_LOG = [
    (6, RUN_A, "loss", math.inf, 0, 14, 3),
    (7, RUN_A, "acc", -math.inf, 0, 14, 3),
    (8, RUN_A, "loss", 0.25, 0, 15, 1),  # an older step: history keeps it, latest does not
]
LATEST = [
    (RUN_A, "loss", math.inf, 0, 14, 3),
    (RUN_A, "acc", -math.inf, 0, 14, 3),
    (RUN_B, "loss", 9.0, 0, 11, 0),
]


def _config(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrate.__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    return config


def _rows(columns: list[str], values: list[tuple[object, ...]]) -> list[dict[str, object]]:
    return [dict(zip(columns, row, strict=True)) for row in values]


def _write_0003_database(db: Database) -> None:
    point = ["seq", "run_id", "key", "value", "value_kind", "timestamp", "step"]

    def create(connection: sa.Connection) -> None:
        command.upgrade(_config(connection), "0003")
        meta = sa.MetaData()
        meta.reflect(connection)
        t = meta.tables
        for run_id in (RUN_A, RUN_B):
            connection.execute(
                sa.insert(t["runs"]),
                {
                    "run_id": run_id,
                    "experiment_id": 0,
                    "name": run_id[:3],
                    "user_id": "u",
                    "status": "RUNNING",
                    "start_time": 1,
                    "artifact_uri": "x",
                    "lifecycle_stage": "active",
                    "deleted_with_experiment": False,
                },
            )
        connection.execute(sa.insert(t["metrics"]), _rows(point, COMPACTED))
        connection.execute(sa.insert(t["metric_log"]), _rows(point, IN_LOG))
        latest = ["run_id", "key", "value", "value_kind", "timestamp", "step"]
        connection.execute(sa.insert(t["latest_metrics"]), _rows(latest, LATEST))

    db.write_with_connection(create)


def _expected(run_id: str, key: str) -> list[tuple[float, int, int]]:
    decoded = {0: None, 1: math.nan, 2: -0.0}
    return [
        (value if kind == 0 else decoded[kind], timestamp, step)  # type: ignore[misc]
        for _, run, name, value, kind, timestamp, step in COMPACTED + IN_LOG
        if run == run_id and name == key
    ]


def _same(history: list[Metric], expected: list[tuple[float, int, int]]) -> bool:
    got = [(m.value, m.timestamp, m.step) for m in history]
    return len(got) == len(expected) and all(
        a[1:] == b[1:]
        and (
            (math.isnan(a[0]) and math.isnan(b[0]))
            or (a[0] == b[0] and math.copysign(1, a[0]) == math.copysign(1, b[0]))
        )
        for a, b in zip(got, expected, strict=True)
    )


def test_upgrade_keeps_every_point_in_order_and_new_points_follow(store_uri: str) -> None:
    db = Database(store_uri)
    _write_0003_database(db)
    assert migrate.upgrade(db) == ("0003", migrate.SCHEMA_HEAD)
    db.close()

    store = open_store(store_uri)
    for run_id, key in ((RUN_A, "loss"), (RUN_A, "acc"), (RUN_B, "loss")):
        assert _same(store.get_metric_history(run_id, key), _expected(run_id, key))
    assert store.get_run(RUN_A).data.metrics == {"loss": math.inf, "acc": -math.inf}

    store.log_batch(RUN_A, [Metric("loss", 7.0, 20, 9)], [], [])
    history = store.get_metric_history(RUN_A, "loss")
    assert [(m.value, m.step) for m in history][-1] == (7.0, 9)
    assert len(history) == len(_expected(RUN_A, "loss")) + 1
    store.update_run(RUN_A, "FINISHED", 30, None)  # folds the new point into a block
    assert _same(store.get_metric_history(RUN_A, "loss")[:-1], _expected(RUN_A, "loss"))
    assert store.get_run(RUN_A).data.metrics["loss"] == 7.0
    store.close()


def test_downgrade_restores_the_row_per_point_tables(store_uri: str) -> None:
    db = Database(store_uri)
    _write_0003_database(db)
    migrate.upgrade(db)
    db.write_with_connection(lambda c: command.downgrade(_config(c), "0003"))

    def points(connection: sa.Connection) -> list[tuple[object, ...]]:
        query = "SELECT run_id, key, value, value_kind, timestamp, step FROM metrics ORDER BY seq"
        return [tuple(row) for row in connection.execute(sa.text(query))]

    restored = db.write_with_connection(points)
    db.close()
    original = [row[1:] for row in COMPACTED + IN_LOG]
    assert len(restored) == len(original)
    for got, want in zip(restored, original, strict=True):
        assert got[:2] == want[:2] and got[3:] == want[3:]
        assert got[2] == want[2] or (got[2] is None and want[2] is None)
