"""The SQL store: experiments, runs and what they log, on SQLite or PostgreSQL.

Each public method is one transaction (``Database.write``/``read``): it checks everything it
needs inside that transaction before its first write, so a failed call leaves no trace.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from runstack.entities import (
    Experiment,
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
    ResourceAlreadyExistsError,
    ResourceNotFoundError,
)
from runstack.store.sql import liveness
from runstack.store.sql import schema as t
from runstack.store.sql.database import Database
from runstack.store.sql.migrate import ensure_schema
from runstack.store.sql.rows import (
    decode_value,
    load_experiments,
    load_runs,
    now_ms,
    run_info_from_row,
)
from runstack.store.sql.writes import RUN_NAME_TAG, write_metrics, write_params, write_tags

ACTIVE = LifecycleStage.ACTIVE
DELETED = LifecycleStage.DELETED
_NON_TERMINAL = ("RUNNING", "SCHEDULED")


def default_artifact_root(db: Database) -> str:
    """Where experiments keep artifacts unless told otherwise."""
    configured = os.environ.get("RUNSTACK_ARTIFACT_ROOT")
    if configured:
        return configured.rstrip("/")
    if db.is_sqlite and db.engine.url.database:
        return str(Path(db.engine.url.database).resolve().parent / "mlruns")
    return str(Path.cwd() / "mlruns")


class SqlStore:
    """A tracking store over SQLAlchemy Core. Open it with ``SqlStore.open(uri)``."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.uri = db.uri
        self.artifact_root = default_artifact_root(db)

    @classmethod
    def open(cls, uri: str) -> SqlStore:
        """Connect, and give an empty database the schema (safe under concurrency)."""
        db = Database(uri)
        ensure_schema(db)
        return cls(db)

    def close(self) -> None:
        self.db.close()

    # Experiments ---------------------------------------------------------------------------

    def _experiment_row(self, connection: Connection, experiment_id: str) -> Any:
        row = connection.execute(
            sa.select(t.experiments).where(t.experiments.c.experiment_id == int(experiment_id))
        ).first()
        if row is None:
            raise ResourceNotFoundError(f"No experiment with id {experiment_id!r} exists.")
        return row

    def _check_name_free(self, connection: Connection, name: str) -> None:
        row = connection.execute(
            sa.select(t.experiments.c.experiment_id, t.experiments.c.lifecycle_stage).where(
                t.experiments.c.name == name
            )
        ).first()
        if row is None:
            return
        if row.lifecycle_stage == DELETED:
            raise ResourceAlreadyExistsError(
                f"An experiment named {name!r} already exists (id {row.experiment_id}) and is "
                "deleted. Restore it, or remove it for good with `runstack gc`, to reuse the name."
            )
        raise ResourceAlreadyExistsError(
            f"An experiment named {name!r} already exists (id {row.experiment_id})."
        )

    def create_experiment(
        self, name: str, artifact_location: str | None, tags: Sequence[tuple[str, str]]
    ) -> str:
        def create(connection: Connection) -> str:
            self._check_name_free(connection, name)
            now = now_ms()
            new_id = connection.execute(
                sa.insert(t.experiments)
                .values(
                    name=name,
                    artifact_location=artifact_location,
                    lifecycle_stage=ACTIVE,
                    creation_time=now,
                    last_update_time=now,
                )
                .returning(t.experiments.c.experiment_id)
            ).scalar_one()
            if artifact_location is None:
                connection.execute(
                    sa.update(t.experiments)
                    .where(t.experiments.c.experiment_id == new_id)
                    .values(artifact_location=f"{self.artifact_root}/{new_id}")
                )
            if tags:
                connection.execute(
                    sa.insert(t.experiment_tags),
                    [{"experiment_id": new_id, "key": k, "value": v} for k, v in dict(tags).items()],
                )
            return str(new_id)

        try:
            return self.db.write(create)
        except IntegrityError:
            # Lost a race with another process creating the same name: say who has it.
            self.db.read(lambda c: self._check_name_free(c, name))
            raise ResourceAlreadyExistsError(
                f"An experiment named {name!r} already exists."
            ) from None

    def get_experiment(self, experiment_id: str) -> Experiment:
        found = self.db.read(
            lambda c: load_experiments(
                c, t.experiments.c.experiment_id == int(experiment_id), self.artifact_root
            )
        )
        if not found:
            raise ResourceNotFoundError(f"No experiment with id {experiment_id!r} exists.")
        return found[0]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        found = self.db.read(
            lambda c: load_experiments(c, t.experiments.c.name == name, self.artifact_root)
        )
        return found[0] if found else None

    def delete_experiment(self, experiment_id: str) -> None:
        def delete(connection: Connection) -> None:
            row = self._experiment_row(connection, experiment_id)
            if row.lifecycle_stage == DELETED:
                return
            now = now_ms()
            connection.execute(
                sa.update(t.experiments)
                .where(t.experiments.c.experiment_id == row.experiment_id)
                .values(lifecycle_stage=DELETED, deleted_time=now, last_update_time=now)
            )
            connection.execute(
                sa.update(t.runs)
                .where(t.runs.c.experiment_id == row.experiment_id, t.runs.c.lifecycle_stage == ACTIVE)
                .values(lifecycle_stage=DELETED, deleted_time=now, deleted_with_experiment=True)
            )

        self.db.write(delete)

    def restore_experiment(self, experiment_id: str) -> None:
        def restore(connection: Connection) -> None:
            row = self._experiment_row(connection, experiment_id)
            if row.lifecycle_stage == ACTIVE:
                return
            connection.execute(
                sa.update(t.experiments)
                .where(t.experiments.c.experiment_id == row.experiment_id)
                .values(lifecycle_stage=ACTIVE, deleted_time=None, last_update_time=now_ms())
            )
            connection.execute(
                sa.update(t.runs)
                .where(
                    t.runs.c.experiment_id == row.experiment_id,
                    t.runs.c.deleted_with_experiment.is_(True),
                )
                .values(lifecycle_stage=ACTIVE, deleted_time=None, deleted_with_experiment=False)
            )

        self.db.write(restore)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        def rename(connection: Connection) -> None:
            row = self._experiment_row(connection, experiment_id)
            if row.lifecycle_stage != ACTIVE:
                raise InvalidStateError(
                    f"Experiment {experiment_id} is deleted; restore it before renaming it."
                )
            if row.name == new_name:
                return
            self._check_name_free(connection, new_name)
            connection.execute(
                sa.update(t.experiments)
                .where(t.experiments.c.experiment_id == row.experiment_id)
                .values(name=new_name, last_update_time=now_ms())
            )

        self.db.write(rename)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        def set_tag(connection: Connection) -> None:
            row = self._experiment_row(connection, experiment_id)
            if row.lifecycle_stage != ACTIVE:
                raise InvalidStateError(
                    f"Experiment {experiment_id} is deleted; restore it before tagging it."
                )
            et = t.experiment_tags
            updated = connection.execute(
                sa.update(et)
                .where(et.c.experiment_id == row.experiment_id, et.c.key == key)
                .values(value=value)
            ).rowcount
            if not updated:
                connection.execute(
                    sa.insert(et).values(experiment_id=row.experiment_id, key=key, value=value)
                )

        self.db.write(set_tag)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        def delete_tag(connection: Connection) -> None:
            row = self._experiment_row(connection, experiment_id)
            et = t.experiment_tags
            deleted = connection.execute(
                sa.delete(et).where(et.c.experiment_id == row.experiment_id, et.c.key == key)
            ).rowcount
            if not deleted:
                raise ResourceNotFoundError(
                    f"Experiment {experiment_id} has no tag {key!r} to delete."
                )

        self.db.write(delete_tag)

    def search_experiments(
        self,
        view_type: ViewType,
        max_results: int,
        filter_string: str | None,
        order_by: Sequence[str] | None,
        page_token: str | None,
    ) -> PagedList:
        from runstack.store.sql import search

        return search.search_experiments(
            self.db, self.artifact_root, view_type, max_results, filter_string, order_by, page_token
        )

    # Runs ----------------------------------------------------------------------------------

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
        run_id = uuid.uuid4().hex
        all_tags = dict(tags)
        all_tags[RUN_NAME_TAG] = run_name

        def create(connection: Connection) -> Run:
            experiment = self._experiment_row(connection, experiment_id)
            if experiment.lifecycle_stage != ACTIVE:
                raise InvalidStateError(
                    f"Experiment {experiment.name!r} (id {experiment_id}) is deleted; restore it "
                    "with restore_experiment() or choose another experiment."
                )
            if parent_run_id is not None:
                self._require_run(connection, parent_run_id, what="Parent run")
            location = experiment.artifact_location or f"{self.artifact_root}/{experiment_id}"
            now = now_ms()
            lease = None if heartbeat_timeout_ms is None else now + heartbeat_timeout_ms
            values = {
                "run_id": run_id,
                "experiment_id": experiment.experiment_id,
                "name": run_name,
                "user_id": user_id,
                "status": "RUNNING",
                "start_time": start_time,
                "end_time": None,
                "artifact_uri": f"{location}/{run_id}/artifacts",
                "lifecycle_stage": ACTIVE,
                "heartbeat_time": None if lease is None else now,
                "heartbeat_deadline": lease,
            }
            connection.execute(sa.insert(t.runs).values(**values))
            connection.execute(
                sa.insert(t.tags),
                [{"run_id": run_id, "key": k, "value": v} for k, v in all_tags.items()],
            )
            info = run_info_from_row(_Values(values))
            return Run(info=info, data=RunData(tags=all_tags))

        return self.db.write(create)

    def _require_run(self, connection: Connection, run_id: str, what: str = "Run") -> Any:
        row = connection.execute(
            sa.select(t.runs.c.run_id, t.runs.c.experiment_id, t.runs.c.lifecycle_stage).where(
                t.runs.c.run_id == run_id
            )
        ).first()
        if row is None:
            raise ResourceNotFoundError(f"{what} {run_id!r} does not exist.")
        if row.lifecycle_stage != ACTIVE:
            raise InvalidStateError(
                f"{what} {run_id} is deleted; restore it with restore_run() before using it."
            )
        return row

    def resume_run(
        self,
        run_id: str,
        expected_experiment_id: str | None,
        run_name: str | None,
        tags: Sequence[tuple[str, str]],
        heartbeat_timeout_ms: int | None,
    ) -> Run:
        def resume(connection: Connection) -> Run:
            row = self._require_run(connection, run_id)
            if expected_experiment_id is not None and str(row.experiment_id) != expected_experiment_id:
                raise InvalidParameterError(
                    f"Run {run_id} belongs to experiment {row.experiment_id}, not "
                    f"{expected_experiment_id}; resume it without experiment_id or with "
                    f"experiment_id={str(row.experiment_id)!r}."
                )
            now = now_ms()
            values: dict[str, Any] = {
                "status": "RUNNING",
                "end_time": None,
                "heartbeat_time": None if heartbeat_timeout_ms is None else now,
                "heartbeat_deadline": None
                if heartbeat_timeout_ms is None
                else now + heartbeat_timeout_ms,
            }
            connection.execute(sa.update(t.runs).where(t.runs.c.run_id == run_id).values(**values))
            all_tags = list(tags)
            if run_name is not None:
                all_tags.append((RUN_NAME_TAG, run_name))
            write_tags(connection, run_id, all_tags)
            return load_runs(connection, [run_id])[run_id]

        return self.db.write(resume)

    def get_run(self, run_id: str) -> Run:
        run, dead = self.db.read(lambda c: self._get_run(c, run_id))
        if dead:
            self.db.write(lambda c: liveness.reap(c, now_ms(), run_ids=[run_id]))
            run, _ = self.db.read(lambda c: self._get_run(c, run_id))
        return run

    def _get_run(self, connection: Connection, run_id: str) -> tuple[Run, bool]:
        found = load_runs(connection, [run_id])
        if run_id not in found:
            raise ResourceNotFoundError(f"Run {run_id!r} does not exist.")
        run = found[run_id]
        return run, liveness.looks_dead(connection, run_id, now_ms())

    def update_run(
        self,
        run_id: str,
        status: str | None,
        end_time: int | None,
        run_name: str | None,
    ) -> RunInfo:
        def update(connection: Connection) -> RunInfo:
            self._require_run(connection, run_id)
            values: dict[str, Any] = {}
            if status is not None:
                values["status"] = status
                if status in _NON_TERMINAL:
                    values.update(end_time=None, heartbeat_time=None, heartbeat_deadline=None)
                else:
                    values.update(end_time=end_time if end_time is not None else now_ms())
                    values.update(heartbeat_deadline=None)
            if values:
                connection.execute(sa.update(t.runs).where(t.runs.c.run_id == run_id).values(**values))
            if run_name is not None:
                write_tags(connection, run_id, [(RUN_NAME_TAG, run_name)])
            row = connection.execute(sa.select(t.runs).where(t.runs.c.run_id == run_id)).one()
            return run_info_from_row(row)

        return self.db.write(update)

    def delete_run(self, run_id: str) -> None:
        def delete(connection: Connection) -> None:
            self._run_row(connection, run_id)
            connection.execute(
                sa.update(t.runs)
                .where(t.runs.c.run_id == run_id, t.runs.c.lifecycle_stage == ACTIVE)
                .values(lifecycle_stage=DELETED, deleted_time=now_ms(), deleted_with_experiment=False)
            )

        self.db.write(delete)

    def restore_run(self, run_id: str) -> None:
        def restore(connection: Connection) -> None:
            row = self._run_row(connection, run_id)
            experiment = self._experiment_row(connection, str(row.experiment_id))
            if experiment.lifecycle_stage != ACTIVE:
                raise InvalidStateError(
                    f"Run {run_id} belongs to deleted experiment {experiment.name!r} (id "
                    f"{experiment.experiment_id}); restore the experiment first."
                )
            connection.execute(
                sa.update(t.runs)
                .where(t.runs.c.run_id == run_id)
                .values(lifecycle_stage=ACTIVE, deleted_time=None, deleted_with_experiment=False)
            )

        self.db.write(restore)

    def _run_row(self, connection: Connection, run_id: str) -> Any:
        row = connection.execute(
            sa.select(t.runs.c.run_id, t.runs.c.experiment_id, t.runs.c.lifecycle_stage).where(
                t.runs.c.run_id == run_id
            )
        ).first()
        if row is None:
            raise ResourceNotFoundError(f"Run {run_id!r} does not exist.")
        return row

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric],
        params: Sequence[tuple[str, str]],
        tags: Sequence[tuple[str, str]],
    ) -> None:
        def log(connection: Connection) -> None:
            self._require_run(connection, run_id)
            write_params(connection, run_id, params)
            write_tags(connection, run_id, tags)
            write_metrics(connection, run_id, metrics)

        self.db.write(log)

    def delete_tag(self, run_id: str, key: str) -> None:
        def delete(connection: Connection) -> None:
            self._require_run(connection, run_id)
            deleted = connection.execute(
                sa.delete(t.tags).where(t.tags.c.run_id == run_id, t.tags.c.key == key)
            ).rowcount
            if not deleted:
                raise ResourceNotFoundError(f"Run {run_id} has no tag {key!r} to delete.")
            if key == RUN_NAME_TAG:
                connection.execute(
                    sa.update(t.runs).where(t.runs.c.run_id == run_id).values(name="")
                )

        self.db.write(delete)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        def history(connection: Connection) -> list[Metric]:
            self._run_row(connection, run_id)
            m = t.metrics.c
            rows = connection.execute(
                sa.select(m.value, m.value_kind, m.timestamp, m.step)
                .where(m.run_id == run_id, m.key == key)
                .order_by(m.seq)
            )
            return [
                Metric(key, decode_value(r.value, r.value_kind), r.timestamp, r.step, run_id)
                for r in rows
            ]

        return self.db.read(history)

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

        if self.db.read(lambda c: liveness.any_dead(c, now_ms())):
            self.db.write(lambda c: liveness.reap(c, now_ms()))
        return search.search_runs(
            self.db, experiment_ids, filter_string, view_type, max_results, order_by, page_token
        )

    def renew_heartbeats(self, run_ids: Sequence[str], timeout_ms: int) -> None:
        if run_ids:
            self.db.write(lambda c: liveness.renew(c, run_ids, now_ms(), timeout_ms))


class _Values:
    """Attribute access over a dict, so freshly written values build a RunInfo like a row."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
