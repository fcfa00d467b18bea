"""Migration 0006 (metric block summaries) summarises every block of a database written by
0005, so that series reduction and per-key min/max/count work on histories folded before it;
the downgrade drops the table and the blocks stay as they were."""

from __future__ import annotations

import math
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from runstack.store import open_store
from runstack.store.sql import migrate
from runstack.store.sql.block_summary import CHUNK_POINTS, chunk_summaries
from runstack.store.sql.database import Database
from runstack.store.sql.packing import pack_block

RUN = "c" * 32
# 3 blocks of "loss" (as three folds wrote them) and one of "acc"; a NaN, an infinity and a
# step that goes back in the middle block.
LOSS_BLOCKS = [
    [(seq, float(seq % 50), 1000 + seq, seq) for seq in range(1, 401)],
    [(401, math.nan, 1401, 401), (402, -math.inf, 1402, 100), (403, 9e9, 1403, 402)],
    [(seq, 1.0, 1000 + seq, seq) for seq in range(404, 900)],
]
ACC = [(2, 0.5, 1002, 1)]


def _config(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrate.__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    return config


def _block(run_id: str, key: str, points: list[tuple[int, float, int, int]]) -> dict[str, object]:
    seqs, values, stamps, steps = zip(*points, strict=True)
    return {
        "run_id": run_id,
        "key": key,
        "first_seq": seqs[0],
        "n_points": len(points),
        "points": pack_block(seqs, values, stamps, steps),
    }


def _write_0005_database(db: Database) -> None:
    def create(connection: sa.Connection) -> None:
        command.upgrade(_config(connection), "0005")
        meta = sa.MetaData()
        meta.reflect(connection)
        tables = meta.tables
        connection.execute(
            sa.insert(tables["runs"]),
            {
                "run_id": RUN,
                "experiment_id": 0,
                "name": "old",
                "user_id": "u",
                "status": "FINISHED",
                "start_time": 1,
                "end_time": 2,
                "artifact_uri": "x",
                "lifecycle_stage": "active",
                "deleted_with_experiment": False,
            },
        )
        blocks = [_block(RUN, "loss", points) for points in LOSS_BLOCKS]
        connection.execute(sa.insert(tables["metric_blocks"]), [*blocks, _block(RUN, "acc", ACC)])
        connection.execute(
            sa.insert(tables["latest_metrics"]),
            [
                {
                    "run_id": RUN,
                    "key": "loss",
                    "value": 1.0,
                    "value_kind": 0,
                    "timestamp": 1899,
                    "step": 899,
                },
                {
                    "run_id": RUN,
                    "key": "acc",
                    "value": 0.5,
                    "value_kind": 0,
                    "timestamp": 1002,
                    "step": 1,
                },
            ],
        )

    db.write_with_connection(create)


def test_upgrade_summarises_existing_blocks(store_uri: str) -> None:
    db = Database(store_uri)
    _write_0005_database(db)
    assert migrate.upgrade(db) == ("0005", migrate.SCHEMA_HEAD)

    def summaries(connection: sa.Connection) -> list[sa.Row[tuple[object, ...]]]:
        query = "SELECT key, first_seq, n_points, min_step, max_step, min_value, max_value, chunks "
        query += "FROM metric_summaries ORDER BY key, first_seq"
        return list(connection.execute(sa.text(query)))

    rows = db.write_with_connection(summaries)
    db.close()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("acc", 2, 1),
        ("loss", 1, 400),
        ("loss", 401, 3),
        ("loss", 404, 496),
    ]
    middle = rows[2]
    assert (middle[3], middle[4], middle[5], middle[6]) == (100, 402, -math.inf, 9e9)
    chunks = list(chunk_summaries(rows[1][7]))
    assert [c.count for c in chunks] == [CHUNK_POINTS] * 3 + [400 - 3 * CHUNK_POINTS]
    # the middle block's points in step order: 100 (-inf), 401 (NaN), 402 (9e9)
    (chunk,) = chunk_summaries(middle[7])
    assert chunk.first[0] == 100 and chunk.last[0] == 402 and chunk.high[2] == 9e9

    store = open_store(store_uri)
    (series,) = store.metric_series([RUN], "loss", 4, None, None)
    assert series.total_points == 899 and series.reduced
    assert series.steps[0] == 1 and series.steps[-1] == 899
    assert max(series.values) == 9e9 and min(series.values) == -math.inf
    ranges = store.metric_value_ranges(RUN)
    assert ranges["loss"] == (-math.inf, 9e9, 899) and ranges["acc"] == (0.5, 0.5, 1)
    # a zoomed range straddling blocks is read point by point
    (series,) = store.metric_series([RUN], "loss", 1000, 890, None)
    assert series.steps == list(range(890, 900)) and not series.reduced
    store.close()


def test_downgrade_drops_the_summaries(store_uri: str) -> None:
    db = Database(store_uri)
    _write_0005_database(db)
    migrate.upgrade(db)
    db.write_with_connection(lambda c: command.downgrade(_config(c), "0005"))
    tables = db.write_with_connection(lambda c: set(sa.inspect(c).get_table_names()))
    count = db.write_with_connection(
        lambda c: c.execute(sa.text("SELECT count(*) FROM metric_blocks")).scalar()
    )
    db.close()
    assert "metric_summaries" not in tables and count == 4
