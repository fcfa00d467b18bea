"""Where purged runs keep artifacts: the artifact URIs ``runstack gc`` deletes before it
removes the runs' rows."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from runstack.store.sql import schema as t
from runstack.store.sql.database import Database, Tx

_r = t.runs.c


def of_runs(db: Database, run_ids: Sequence[str]) -> dict[str, str]:
    """run id -> artifact URI, for those of ``run_ids`` that exist."""
    if not run_ids:
        return {}

    def read(tx: Tx) -> dict[str, str]:
        rows = tx.all(sa.select(_r.run_id, _r.artifact_uri).where(_r.run_id.in_(list(run_ids))))
        return {row.run_id: row.artifact_uri for row in rows}

    return db.read(read)


def of_experiment(db: Database, experiment_id: str) -> dict[str, str]:
    """run id -> artifact URI of every run of the experiment (deleted or not)."""

    def read(tx: Tx) -> dict[str, str]:
        query = sa.select(_r.run_id, _r.artifact_uri).where(_r.experiment_id == int(experiment_id))
        return {row.run_id: row.artifact_uri for row in tx.all(query)}

    return db.read(read)
