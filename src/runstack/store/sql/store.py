"""The SQL store: experiments, runs and what they log, on SQLite or PostgreSQL.

Each public method is one transaction (``Database.write``/``read``): it checks everything it
needs inside that transaction before its first write, so a failed call leaves no trace. On
PostgreSQL, starting a run (``one_statement.py``), ending it and logging metrics alone try
one autocommit statement first (``Database.write_alone``); ending a run then folds its log in
a second transaction, which only moves points that reads already see.
Experiment operations live in ``experiments.py``; this class adds runs and logging.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from runstack.clock import now_ms
from runstack.entities import (
    DatasetInput,
    LifecycleStage,
    Metric,
    PagedList,
    Run,
    RunData,
    RunInfo,
    ViewType,
)
from runstack.errors import (
    InvalidParameterError,
    InvalidStateError,
    ResourceNotFoundError,
    StoreUnavailableError,
)
from runstack.store.sql import liveness, one_statement
from runstack.store.sql import schema as t
from runstack.store.sql.database import Database, Prepared, Tx
from runstack.store.sql.experiments import ExperimentStore, experiment_row
from runstack.store.sql.inputs import with_inputs, write_inputs
from runstack.store.sql.migrate import ensure_schema
from runstack.store.sql.packing import unpack_batch, unpack_block
from runstack.store.sql.rows import (
    LOGGED_OF_RUN,
    RUN_BY_ID,
    RUN_COLUMNS,
    load_runs,
    run_info_from_row,
)
from runstack.store.sql.ui_store import UiReads
from runstack.store.sql.writes import (
    fold_run,
    write_metrics,
    write_params,
    write_tags,
)
from runstack.tags import RUN_NAME
from runstack.validation import validate_user_id

logger = logging.getLogger("runstack.store")
ACTIVE = LifecycleStage.ACTIVE
DELETED = LifecycleStage.DELETED
_NON_TERMINAL = ("RUNNING", "SCHEDULED")
_RUN: sa.BindParameter[str] = sa.bindparam("run_id")

_RUN_STATE = Prepared(
    sa.select(t.runs.c.run_id, t.runs.c.experiment_id, t.runs.c.lifecycle_stage).where(
        t.runs.c.run_id == _RUN
    )
)
_INSERT_RUN = Prepared(sa.insert(t.runs))
_INSERT_TAG = Prepared(sa.insert(t.tags))


_RESUME = Prepared(
    sa.update(t.runs)
    .where(t.runs.c.run_id == _RUN)
    .values(
        status="RUNNING",
        end_time=None,
        heartbeat_time=sa.bindparam("heartbeat_time"),
        heartbeat_deadline=sa.bindparam("heartbeat_deadline"),
    )
)


def _on_active_run(values: dict[str, Any], *also_returned: Any) -> Any:
    """An UPDATE of one active run; PostgreSQL also returns the changed row and
    ``also_returned`` (one round trip fewer; SQLite reads it back, in process, as RETURNING
    needs SQLite 3.35)."""

    def build(dialect_name: str) -> Any:
        runs = t.runs.c
        statement = (
            sa.update(t.runs)
            .where(runs.run_id == _RUN, runs.lifecycle_stage == ACTIVE)
            .values(**values)
        )
        if dialect_name != "postgresql":
            return statement
        return statement.returning(*RUN_COLUMNS, *also_returned)

    return build


_SET_NON_TERMINAL = Prepared(
    _on_active_run(
        {
            "status": sa.bindparam("status"),
            "end_time": None,
            "heartbeat_time": None,
            "heartbeat_deadline": None,
        }
    )
)
# Ending a run; on PostgreSQL the returned row also says whether the run has logged points
# still to fold (``unfolded``), so that end_run is one statement when it has none.
_SET_TERMINAL = Prepared(
    _on_active_run(
        {
            "status": sa.bindparam("status"),
            "end_time": sa.bindparam("end_time"),
            "heartbeat_deadline": None,
        },
        sa.exists().where(t.metric_log.c.run_id == _RUN).label("unfolded"),
    )
)
_SET_LIFECYCLE = Prepared(
    sa.update(t.runs)
    .where(t.runs.c.run_id == _RUN)
    .values(
        lifecycle_stage=sa.bindparam("stage"),
        deleted_time=sa.bindparam("deleted_time"),
        deleted_with_experiment=False,
    )
)
_DELETE_TAG = Prepared(
    sa.delete(t.tags).where(t.tags.c.run_id == _RUN, t.tags.c.key == sa.bindparam("key"))
)


_blocks = t.metric_blocks.c
_BLOCKS_OF_KEY = Prepared(
    sa.select(_blocks.points)
    .where(_blocks.run_id == _RUN, _blocks.key == sa.bindparam("key"))
    .order_by(_blocks.first_seq)
)
_log = t.metric_log.c
_RUNS_WITH_LOGGED_POINTS = Prepared(sa.select(_log.run_id).distinct())
_ANY_LOGGED_POINTS = Prepared(sa.select(_log.seq).limit(1))
# A run's log is folded (see writes.fold_run) once this process has added this many points
# or log rows to it. Reads merge the unfolded rows (about 0.3 µs a point), so the log of an
# active run stays short; a fold costs a few hundred µs plus well under 1 µs a point.
FOLD_EVERY_POINTS = 5_000
FOLD_EVERY_CALLS = 100


class _Values:
    """Attribute access over a dict, so freshly written values build a RunInfo like a row."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def run_state(tx: Tx, run_id: str) -> Any:
    """(run_id, experiment_id, lifecycle_stage) of a run, or ResourceNotFoundError."""
    row = tx.first(_RUN_STATE, {"run_id": run_id})
    if row is None:
        raise ResourceNotFoundError(f"Run {run_id!r} does not exist.")
    return row


def require_active_run(tx: Tx, run_id: str, what: str = "Run") -> Any:
    row = tx.first(_RUN_STATE, {"run_id": run_id})
    if row is None:
        raise ResourceNotFoundError(f"{what} {run_id!r} does not exist.")
    if row.lifecycle_stage != ACTIVE:
        raise InvalidStateError(
            f"{what} {run_id} is deleted; restore it with restore_run() before using it."
        )
    return row


def _update_active(tx: Tx, statement: Prepared, values: dict[str, Any]) -> Any:
    """Run an ``_on_active_run`` update: the changed row where the database returns it, else
    None; a missing or deleted run raises, as ``require_active_run`` does."""
    if tx.dialect.name == "postgresql":
        row = tx.first(statement, values)
        changed = row is not None
    else:
        row, changed = None, tx.run(statement, values) > 0
    if not changed:
        require_active_run(tx, values["run_id"])
    return row


class SqlStore(UiReads, ExperimentStore):
    """A tracking store over SQLAlchemy. Open it with ``SqlStore.open(uri)``."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        # (points, calls) this process logged per run since it last folded that run's log.
        self._unfolded: dict[str, tuple[int, int]] = {}

    @classmethod
    def open(cls, uri: str) -> SqlStore:
        """Connect, and give an empty database the schema (safe under concurrency)."""
        db = Database(uri)
        ensure_schema(db)
        return cls(db)

    def close(self) -> None:
        self.db.close()

    def create_run(
        self,
        experiment_id: str,
        user_id: str,
        start_time: int,
        run_name: str,
        tags: Sequence[tuple[str, str]],
        parent_run_id: str | None,
        heartbeat_timeout_ms: int | None,
    ) -> Run:
        user_id = validate_user_id(user_id)  # before the database: both refuse alike
        run_id = uuid.uuid4().hex
        all_tags = dict(tags)
        all_tags[RUN_NAME] = run_name
        now = now_ms()
        values = {
            "run_id": run_id,
            "experiment_id": int(experiment_id),
            "name": run_name,
            "user_id": user_id,
            "status": "RUNNING",
            "start_time": start_time,
            "end_time": None,
            "lifecycle_stage": ACTIVE,
            "deleted_time": None,
            "deleted_with_experiment": False,
            "heartbeat_time": None if heartbeat_timeout_ms is None else now,
            "heartbeat_deadline": (
                None if heartbeat_timeout_ms is None else now + heartbeat_timeout_ms
            ),
        }

        def created(artifact_uri: str) -> Run:
            info = run_info_from_row(_Values({**values, "artifact_uri": artifact_uri}))
            return Run(info=info, data=RunData(tags=all_tags))

        if not self.db.is_sqlite:
            artifact_uri = self.db.write_alone(
                lambda tx: tx.scalar(
                    one_statement.CREATE_RUN,
                    {
                        **values,
                        "parent_run_id": parent_run_id,
                        "default_location": f"{self.artifact_root}/{experiment_id}",
                        "keys": list(all_tags),
                        "values": list(all_tags.values()),
                    },
                )
            )
            if artifact_uri is not None:
                return created(artifact_uri)
            # Nothing was written: the transaction below finds out why and says so.

        def create(tx: Tx) -> Run:
            experiment = experiment_row(tx, experiment_id)
            if experiment.lifecycle_stage != ACTIVE:
                raise InvalidStateError(
                    f"Experiment {experiment.name!r} (id {experiment_id}) is deleted; restore it "
                    "with restore_experiment() or choose another experiment."
                )
            if parent_run_id is not None:
                require_active_run(tx, parent_run_id, what="Parent run")
            location = experiment.artifact_location or f"{self.artifact_root}/{experiment_id}"
            tx.run(_INSERT_RUN, {**values, "artifact_uri": f"{location}/{run_id}/artifacts"})
            rows = [{"run_id": run_id, "key": k, "value": v} for k, v in all_tags.items()]
            tx.many(_INSERT_TAG, rows)
            return created(f"{location}/{run_id}/artifacts")

        return self.db.write(create)

    def resume_run(
        self,
        run_id: str,
        expected_experiment_id: str | None,
        run_name: str | None,
        tags: Sequence[tuple[str, str]],
        heartbeat_timeout_ms: int | None,
    ) -> Run:
        def resume(tx: Tx) -> Run:
            row = require_active_run(tx, run_id)
            if (
                expected_experiment_id is not None
                and str(row.experiment_id) != expected_experiment_id
            ):
                raise InvalidParameterError(
                    f"Run {run_id} belongs to experiment {row.experiment_id}, not "
                    f"{expected_experiment_id}; resume it without experiment_id or with "
                    f"experiment_id={str(row.experiment_id)!r}."
                )
            now = now_ms()
            lease = None if heartbeat_timeout_ms is None else now + heartbeat_timeout_ms
            tx.run(
                _RESUME,
                {
                    "run_id": run_id,
                    "heartbeat_time": None if lease is None else now,
                    "heartbeat_deadline": lease,
                },
            )
            all_tags = list(tags)
            if run_name is not None:
                all_tags.append((RUN_NAME, run_name))
            write_tags(tx, run_id, all_tags)
            return with_inputs(tx, load_runs(tx, [run_id]))[run_id]

        return self.db.write(resume)

    def get_run(self, run_id: str) -> Run:
        run, dead = self.db.read(lambda tx: self._get_run(tx, run_id))
        if dead:
            self.db.write(lambda tx: liveness.reap(tx, now_ms(), run_ids=[run_id]))
            run, _ = self.db.read(lambda tx: self._get_run(tx, run_id))
        return run

    @staticmethod
    def _get_run(tx: Tx, run_id: str) -> tuple[Run, bool]:
        found = with_inputs(tx, load_runs(tx, [run_id]))
        if run_id not in found:
            raise ResourceNotFoundError(f"Run {run_id!r} does not exist.")
        run = found[run_id]
        return run, run.info.status == "RUNNING" and liveness.looks_dead(tx, run_id, now_ms())

    def update_run(
        self,
        run_id: str,
        status: str | None,
        end_time: int | None,
        run_name: str | None,
    ) -> RunInfo:
        ending = status is not None and status not in _NON_TERMINAL
        if ending and run_name is None and not self.db.is_sqlite:
            finished = end_time if end_time is not None else now_ms()
            values = {"run_id": run_id, "status": status, "end_time": finished}
            row = self.db.write_alone(lambda tx: tx.first(_SET_TERMINAL, values))
            if row is not None:
                if row.unfolded:
                    self._fold_after_end(run_id)
                self._unfolded.pop(run_id, None)
                return run_info_from_row(row)
            # Nothing was written: the transaction below finds out why and says so.

        def update(tx: Tx) -> RunInfo:
            row = None
            if status in _NON_TERMINAL:
                row = _update_active(tx, _SET_NON_TERMINAL, {"run_id": run_id, "status": status})
            elif status is not None:
                finished = end_time if end_time is not None else now_ms()
                values = {"run_id": run_id, "status": status, "end_time": finished}
                row = _update_active(tx, _SET_TERMINAL, values)
                fold_run(tx, run_id)
            else:
                require_active_run(tx, run_id)
            if run_name is not None:
                write_tags(tx, run_id, [(RUN_NAME, run_name)])
                row = None  # renamed since
            if row is None:
                row = tx.first(RUN_BY_ID, {"run_id": run_id})
            return run_info_from_row(row)

        info = self.db.write(update)
        if ending:
            self._unfolded.pop(run_id, None)
        return info

    def _fold_after_end(self, run_id: str) -> None:
        """Fold a run's log once its end is committed, in a transaction of its own. A failure
        here must not report the end as failed: the points stay in the log, where every read
        sees them, until a later fold (a search on metrics, or the next one of this run)."""
        try:
            self.db.write(lambda tx: fold_run(tx, run_id))
        except StoreUnavailableError as error:
            logger.warning("Run %s ended; folding its metric log failed (%s).", run_id, error)

    def delete_run(self, run_id: str) -> None:
        def delete(tx: Tx) -> None:
            if run_state(tx, run_id).lifecycle_stage == ACTIVE:
                tx.run(
                    _SET_LIFECYCLE, {"run_id": run_id, "stage": DELETED, "deleted_time": now_ms()}
                )

        self.db.write(delete)

    def restore_run(self, run_id: str) -> None:
        def restore(tx: Tx) -> None:
            row = run_state(tx, run_id)
            experiment = experiment_row(tx, str(row.experiment_id))
            if experiment.lifecycle_stage != ACTIVE:
                raise InvalidStateError(
                    f"Run {run_id} belongs to deleted experiment {experiment.name!r} (id "
                    f"{experiment.experiment_id}); restore the experiment first."
                )
            tx.run(_SET_LIFECYCLE, {"run_id": run_id, "stage": ACTIVE, "deleted_time": None})

        self.db.write(restore)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric],
        params: Sequence[tuple[str, str]],
        tags: Sequence[tuple[str, str]],
    ) -> None:
        points, calls = self._unfolded.get(run_id, (0, 0))
        if metrics:
            points, calls = points + len(metrics), calls + 1
        fold = points >= FOLD_EVERY_POINTS or calls >= FOLD_EVERY_CALLS

        only_metrics = bool(metrics) and not params and not tags
        # The hot path, one statement on PostgreSQL: append if the run is active. When it
        # appended nothing, the transaction below finds out why and says so.
        if (
            only_metrics
            and not fold
            and not self.db.is_sqlite
            and self.db.write_alone(lambda tx: write_metrics(tx, run_id, metrics, if_active=True))
        ):
            self._unfolded[run_id] = (points, calls)
            return

        def log(tx: Tx) -> None:
            if only_metrics:  # check and write at once
                if not write_metrics(tx, run_id, metrics, if_active=True):
                    require_active_run(tx, run_id)  # raises: the run is missing or deleted
            else:
                require_active_run(tx, run_id)
                write_params(tx, run_id, params)
                write_tags(tx, run_id, tags)
                write_metrics(tx, run_id, metrics)
            if fold:
                fold_run(tx, run_id)

        self.db.write(log)
        self._unfolded[run_id] = (0, 0) if fold else (points, calls)

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        def log(tx: Tx) -> None:
            run = require_active_run(tx, run_id)
            write_inputs(tx, run_id, run.experiment_id, datasets)

        self.db.write(log)

    def delete_tag(self, run_id: str, key: str) -> None:
        def delete(tx: Tx) -> None:
            require_active_run(tx, run_id)
            if not tx.run(_DELETE_TAG, {"run_id": run_id, "key": key}):
                raise ResourceNotFoundError(f"Run {run_id} has no tag {key!r} to delete.")
            if key == RUN_NAME:  # the name lives in the tag and the column: keep them equal
                tx.run(sa.update(t.runs).where(t.runs.c.run_id == run_id).values(name=""))

        self.db.write(delete)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        def history(tx: Tx) -> list[Metric]:
            run_state(tx, run_id)
            points: list[tuple[int, float, int, int]] = []
            for row in tx.all(_BLOCKS_OF_KEY, {"run_id": run_id, "key": key}):
                block = unpack_block(row.points)
                points += zip(block.seqs, block.values, block.timestamps, block.steps, strict=True)
            for row in tx.all(LOGGED_OF_RUN, {"run_id": run_id}):
                batch = unpack_batch(row.points)
                points += (
                    (row.seq, value, timestamp, step)
                    for name, value, timestamp, step in zip(
                        batch.keys, batch.values, batch.timestamps, batch.steps, strict=True
                    )
                    if name == key
                )
            # Blocks and log rows are each in logging order; concurrent writers to one run on
            # PostgreSQL can commit out of order, so check before paying for a sort.
            if any(points[i][0] > points[i + 1][0] for i in range(len(points) - 1)):
                points.sort(key=lambda point: point[0])  # stable: one call's points keep order
            return [Metric(key, v, timestamp, step, run_id) for _, v, timestamp, step in points]

        return self.db.read(history)

    def fold_logged_metrics(self) -> int:
        """Fold every run's logged points (so that SQL sees each latest value); returns how
        many points moved. Cheap when nothing is waiting: one indexed probe."""
        if self.db.read(lambda tx: tx.first(_ANY_LOGGED_POINTS)) is None:
            return 0

        def fold(tx: Tx) -> int:
            # One order for every fold: two folds never wait on each other crosswise.
            runs = sorted(row.run_id for row in tx.all(_RUNS_WITH_LOGGED_POINTS))
            return sum(fold_run(tx, run_id) for run_id in runs)

        return self.db.write(fold)

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None,
        view_type: ViewType,
        max_results: int,
        order_by: Sequence[str] | None,
        page_token: str | None,
    ) -> PagedList:
        from runstack.store.sql import search

        self.reap_dead_runs()
        return search.search_runs(
            self.db,
            experiment_ids,
            filter_string,
            view_type,
            max_results,
            order_by,
            page_token,
            self.fold_logged_metrics,
        )

    def renew_heartbeats(self, run_ids: Sequence[str], timeout_ms: int) -> None:
        if run_ids:
            self.db.write(lambda tx: liveness.renew(tx, run_ids, now_ms(), timeout_ms))

    def reap_dead_runs(self) -> list[str]:
        # A read first: the common case, no dead run, takes no write lock.
        if not self.db.read(lambda tx: liveness.any_dead(tx, now_ms())):
            return []
        reaped: list[str] = self.db.write(lambda tx: liveness.reap(tx, now_ms()))
        return reaped

    # Permanent deletion (``runstack gc``) ----------------------------------------------------

    def deleted_before(self, cutoff_ms: int) -> tuple[list[str], list[str]]:
        """Ids of runs and experiments deleted at or before ``cutoff_ms`` (experiment "0",
        Default, is never listed: it is restored instead of removed)."""
        self.db.write(lambda tx: liveness.reap(tx, now_ms()))

        def find(tx: Tx) -> tuple[list[str], list[str]]:
            r, e = t.runs.c, t.experiments.c
            run_rows = tx.all(
                sa.select(r.run_id)
                .where(r.lifecycle_stage == DELETED, r.deleted_time <= cutoff_ms)
                .order_by(r.run_id)
            )
            experiment_rows = tx.all(
                sa.select(e.experiment_id).where(
                    e.lifecycle_stage == DELETED, e.deleted_time <= cutoff_ms, e.experiment_id != 0
                )
            )
            return [row.run_id for row in run_rows], [
                str(row.experiment_id) for row in experiment_rows
            ]

        return self.db.read(find)

    def purge_runs(self, run_ids: Sequence[str]) -> int:
        """Remove these runs, if deleted, with everything they logged; returns how many."""

        def purge(tx: Tx) -> int:
            condition = sa.and_(
                t.runs.c.run_id.in_(list(run_ids)), t.runs.c.lifecycle_stage == DELETED
            )
            return _remove_runs(
                tx, [row.run_id for row in tx.all(sa.select(t.runs.c.run_id).where(condition))]
            )

        return self.db.write(purge) if run_ids else 0

    def purge_experiments(self, experiment_ids: Sequence[str]) -> int:
        """Remove deleted experiments with all their runs; returns how many runs went too."""
        return sum(self._purge_experiment(int(e)) for e in experiment_ids)

    def _purge_experiment(self, experiment_id: int) -> int:
        def purge_some_runs(tx: Tx) -> int:
            runs = t.runs.c
            query = sa.select(runs.run_id).where(runs.experiment_id == experiment_id).limit(200)
            return _remove_runs(tx, [row.run_id for row in tx.all(query)])

        def drop(tx: Tx) -> None:
            e, et = t.experiments.c, t.experiment_tags.c
            tx.run(sa.delete(t.experiment_tags).where(et.experiment_id == experiment_id))
            tx.run(
                sa.delete(t.experiments).where(
                    e.experiment_id == experiment_id, e.lifecycle_stage == DELETED
                )
            )

        removed = 0
        while (count := self.db.write(purge_some_runs)) > 0:  # in slices: short transactions
            removed += count
        self.db.write(drop)
        return removed


def _remove_runs(tx: Tx, run_ids: list[str]) -> int:
    """Delete runs and their rows for good (inside the caller's transaction)."""
    if not run_ids:
        return 0
    for table in (
        t.metric_summaries,
        t.metric_blocks,
        t.metric_log,
        t.latest_metrics,
        t.params,
        t.tags,
    ):
        tx.run(sa.delete(table).where(table.c.run_id.in_(run_ids)))
    return tx.run(sa.delete(t.runs).where(t.runs.c.run_id.in_(run_ids)))
