"""The web UI's reads as methods of the SQL store (mixed into ``SqlStore``); each is one
read transaction (a run table page may first reap dead runs and fold logged metrics, as run
search does)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa

from runstack.errors import InvalidParameterError, ResourceNotFoundError
from runstack.series import MIN_MAX_POINTS
from runstack.store.sql import series_queries, ui_queries
from runstack.store.sql.database import Database, Tx
from runstack.store.sql.schema import runs
from runstack.store.ui_types import (
    ExperimentActivity,
    KeyKind,
    MetricSeries,
    RunTablePage,
    RunTableQuery,
)


class UiReads:
    """Needs ``self.db`` and ``self.fold_logged_metrics`` (``SqlStore`` has both)."""

    db: Database
    fold_logged_metrics: Callable[[], int]

    def experiment_activity(self, experiment_ids: Sequence[str]) -> dict[str, ExperimentActivity]:
        return self.db.read(lambda tx: ui_queries.experiment_activity(tx, experiment_ids))

    def experiment_keys(
        self, experiment_ids: Sequence[str], kind: KeyKind, contains: str, max_results: int
    ) -> tuple[list[str], bool]:
        if kind == "metrics":  # keys logged since the last fold are not in latest_metrics yet
            self.fold_logged_metrics()
        return self.db.read(
            lambda tx: ui_queries.experiment_keys(tx, experiment_ids, kind, contains, max_results)
        )

    def runs_table(self, query: RunTableQuery) -> RunTablePage:
        return ui_queries.runs_table(self.db, query, self.fold_logged_metrics)

    def metric_value_ranges(self, run_id: str) -> dict[str, tuple[float | None, float | None, int]]:
        return self.db.read(lambda tx: ui_queries.value_ranges(tx, run_id))

    def metric_series(
        self,
        run_ids: Sequence[str],
        key: str,
        max_points: int,
        min_step: int | None,
        max_step: int | None,
    ) -> list[MetricSeries]:
        if max_points < MIN_MAX_POINTS:
            raise InvalidParameterError(
                f"Invalid value {max_points} for parameter 'max_points': at least "
                f"{MIN_MAX_POINTS} (each bucket keeps its first, last, lowest and highest point)."
            )

        def read(tx: Tx) -> list[MetricSeries]:
            _one_snapshot(tx)
            found = {
                row.run_id
                for row in tx.all(sa.select(runs.c.run_id).where(runs.c.run_id.in_(list(run_ids))))
            }
            for run_id in run_ids:
                if run_id not in found:
                    raise ResourceNotFoundError(f"Run {run_id!r} does not exist.")
            return series_queries.metric_series(
                tx, list(run_ids), key, max_points, min_step, max_step
            )

        return self.db.read(read)


def _one_snapshot(tx: Tx) -> None:
    """Read summaries, blocks and the log as of one moment: on PostgreSQL a fold committing
    between two statements would otherwise move points out of the log after it was read and
    into a block not yet seen (or the other way round). SQLite's read transactions already
    see one snapshot."""
    if tx.dialect.name == "postgresql":
        tx.run(_REPEATABLE_READ)


_REPEATABLE_READ = sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
