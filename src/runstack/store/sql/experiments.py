"""Experiment operations of the SQL store: create, read, rename, tag, delete, restore.

Names are unique, deleted experiments included (as MLflow). Deleting an experiment hides its
active runs and marks them as hidden *by the experiment*, so restoring it brings back exactly
those runs and not the ones deleted on their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from runstack.artifacts.locations import check_artifact_location
from runstack.clock import now_ms
from runstack.entities import Experiment, LifecycleStage, PagedList, ViewType
from runstack.errors import InvalidStateError, ResourceAlreadyExistsError, ResourceNotFoundError
from runstack.settings import ARTIFACT_ROOT
from runstack.store.sql import schema as t
from runstack.store.sql.database import Database, Prepared, Tx
from runstack.store.sql.rows import with_experiment_tags

ACTIVE = LifecycleStage.ACTIVE
DELETED = LifecycleStage.DELETED
_e = t.experiments.c
_EXPERIMENT_BY_ID = Prepared(sa.select(t.experiments).where(_e.experiment_id == sa.bindparam("id")))
_EXPERIMENT_BY_NAME = Prepared(sa.select(t.experiments).where(_e.name == sa.bindparam("name")))


def default_artifact_root(db: Database) -> str:
    """Where experiments keep artifacts unless told otherwise: ``RUNSTACK_ARTIFACT_ROOT``,
    else ``mlruns`` beside the SQLite file, else ``mlruns`` in the working directory."""
    configured = ARTIFACT_ROOT.read()
    if configured:
        # A relative local root is made absolute, as MLflow does (runs keep absolute URIs).
        return check_artifact_location(configured.rstrip("/") or "/") or configured
    if db.is_sqlite and db.engine.url.database:
        return str(Path(db.engine.url.database).resolve().parent / "mlruns")
    return str(Path.cwd() / "mlruns")


def experiment_row(tx: Tx, experiment_id: str) -> Any:
    row = tx.first(_EXPERIMENT_BY_ID, {"id": int(experiment_id)})
    if row is None:
        raise ResourceNotFoundError(f"No experiment with id {experiment_id!r} exists.")
    return row


def check_name_free(tx: Tx, name: str) -> None:
    row = tx.first(_EXPERIMENT_BY_NAME, {"name": name})
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


class ExperimentStore:
    """The experiment half of ``SqlStore``."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.uri = db.uri
        self.artifact_root = default_artifact_root(db)

    def create_experiment(
        self, name: str, artifact_location: str | None, tags: Sequence[tuple[str, str]]
    ) -> str:
        def create(tx: Tx) -> str:
            check_name_free(tx, name)
            now = now_ms()
            new_id = tx.scalar(
                sa.insert(t.experiments)
                .values(
                    name=name,
                    artifact_location=artifact_location,
                    lifecycle_stage=ACTIVE,
                    creation_time=now,
                    last_update_time=now,
                )
                .returning(_e.experiment_id)
            )
            if artifact_location is None:
                tx.run(
                    sa.update(t.experiments)
                    .where(_e.experiment_id == new_id)
                    .values(artifact_location=f"{self.artifact_root}/{new_id}")
                )
            for key, value in dict(tags).items():
                tx.run(
                    sa.insert(t.experiment_tags).values(experiment_id=new_id, key=key, value=value)
                )
            return str(new_id)

        # A lost race on the unique name re-runs `create`, whose check then names the winner.
        return self.db.write(create)

    def get_experiment(self, experiment_id: str) -> Experiment:
        found = self._read_experiment(_EXPERIMENT_BY_ID, {"id": int(experiment_id)})
        if found is None:
            raise ResourceNotFoundError(f"No experiment with id {experiment_id!r} exists.")
        return found

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self._read_experiment(_EXPERIMENT_BY_NAME, {"name": name})

    def _read_experiment(self, query: Prepared, values: dict[str, Any]) -> Experiment | None:
        def read(tx: Tx) -> Experiment | None:
            row = tx.first(query, values)
            return None if row is None else with_experiment_tags(tx, [row], self.artifact_root)[0]

        return self.db.read(read)

    def delete_experiment(self, experiment_id: str) -> None:
        def delete(tx: Tx) -> None:
            row = experiment_row(tx, experiment_id)
            if row.lifecycle_stage == DELETED:
                return
            now = now_ms()
            tx.run(
                sa.update(t.experiments)
                .where(_e.experiment_id == row.experiment_id)
                .values(lifecycle_stage=DELETED, deleted_time=now, last_update_time=now)
            )
            tx.run(
                sa.update(t.runs)
                .where(
                    t.runs.c.experiment_id == row.experiment_id, t.runs.c.lifecycle_stage == ACTIVE
                )
                .values(lifecycle_stage=DELETED, deleted_time=now, deleted_with_experiment=True)
            )

        self.db.write(delete)

    def restore_experiment(self, experiment_id: str) -> None:
        def restore(tx: Tx) -> None:
            row = experiment_row(tx, experiment_id)
            if row.lifecycle_stage == ACTIVE:
                return
            tx.run(
                sa.update(t.experiments)
                .where(_e.experiment_id == row.experiment_id)
                .values(lifecycle_stage=ACTIVE, deleted_time=None, last_update_time=now_ms())
            )
            tx.run(
                sa.update(t.runs)
                .where(
                    t.runs.c.experiment_id == row.experiment_id,
                    t.runs.c.deleted_with_experiment.is_(True),
                )
                .values(lifecycle_stage=ACTIVE, deleted_time=None, deleted_with_experiment=False)
            )

        self.db.write(restore)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        def rename(tx: Tx) -> None:
            row = experiment_row(tx, experiment_id)
            if row.lifecycle_stage != ACTIVE:
                raise InvalidStateError(
                    f"Experiment {experiment_id} is deleted; restore it before renaming it."
                )
            if row.name == new_name:
                return
            check_name_free(tx, new_name)
            tx.run(
                sa.update(t.experiments)
                .where(_e.experiment_id == row.experiment_id)
                .values(name=new_name, last_update_time=now_ms())
            )

        self.db.write(rename)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        def set_tag(tx: Tx) -> None:
            row = experiment_row(tx, experiment_id)
            if row.lifecycle_stage != ACTIVE:
                raise InvalidStateError(
                    f"Experiment {experiment_id} is deleted; restore it before tagging it."
                )
            et = t.experiment_tags
            where = sa.and_(et.c.experiment_id == row.experiment_id, et.c.key == key)
            if not tx.run(sa.update(et).where(where).values(value=value)):
                tx.run(sa.insert(et).values(experiment_id=row.experiment_id, key=key, value=value))

        self.db.write(set_tag)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        def delete_tag(tx: Tx) -> None:
            row = experiment_row(tx, experiment_id)
            et = t.experiment_tags
            where = sa.and_(et.c.experiment_id == row.experiment_id, et.c.key == key)
            if not tx.run(sa.delete(et).where(where)):
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
