"""Dataset inputs in SQL: recording the datasets a run used, and reading them back with runs.

The rules are MLflow's (its SQL store): within the run's experiment a dataset is identified
by (name, digest) and an existing row is reused as it is; the first of several inputs with
the same (name, digest) in one call wins; a dataset the run already uses keeps its input and
that input's tags unchanged. Everything runs inside the caller's transaction. A concurrent
writer inserting the same dataset or input first trips a unique constraint, and ``Database``
then runs the whole transaction again, which finds the row and reuses it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from runstack.entities import Dataset, DatasetInput, InputTag, Run, RunInputs
from runstack.store.sql import schema as t
from runstack.store.sql.database import Prepared, Tx
from runstack.store.sql.rows import any_of_ids, ids_param

_d, _ri, _it = t.datasets.c, t.run_inputs.c, t.input_tags.c
_RUN: sa.BindParameter[str] = sa.bindparam("run_id")

_DATASETS_NAMED = Prepared(
    lambda dialect: sa.select(_d.dataset_id, _d.name, _d.digest).where(
        _d.experiment_id == sa.bindparam("experiment_id"), any_of_ids(_d.name, dialect)
    )
)
_INSERT_DATASET = Prepared(
    sa.insert(t.datasets).values(
        experiment_id=sa.bindparam("experiment_id"),
        name=sa.bindparam("name"),
        digest=sa.bindparam("digest"),
        source_type=sa.bindparam("source_type"),
        source=sa.bindparam("source"),
        schema=sa.bindparam("schema"),
        profile=sa.bindparam("profile"),
    )
)
_INPUTS_OF_RUN = Prepared(sa.select(_ri.input_id, _ri.dataset_id).where(_ri.run_id == _RUN))
_INSERT_INPUT = Prepared(
    sa.insert(t.run_inputs).values(run_id=_RUN, dataset_id=sa.bindparam("dataset_id"))
)
_INSERT_INPUT_TAG = Prepared(sa.insert(t.input_tags))
# A page of runs' inputs in one query: each input with its dataset and its tags (if any),
# in logging order.
_INPUTS_OF_RUNS = Prepared(
    lambda dialect: (
        sa.select(
            _ri.run_id,
            _ri.input_id,
            _d.name,
            _d.digest,
            _d.source_type,
            _d.source,
            _d["schema"],
            _d.profile,
            _it.key,
            _it.value,
        )
        .select_from(
            t.run_inputs.join(t.datasets, _d.dataset_id == _ri.dataset_id).outerjoin(
                t.input_tags, _it.input_id == _ri.input_id
            )
        )
        .where(any_of_ids(_ri.run_id, dialect))
        .order_by(_ri.input_id, _it.key)
    )
)


def write_inputs(tx: Tx, run_id: str, experiment_id: int, inputs: Sequence[DatasetInput]) -> None:
    """Record checked inputs for a run the caller found active, in the caller's transaction."""
    wanted: dict[tuple[str, str], DatasetInput] = {}
    for item in inputs:  # the first of each (name, digest) wins
        wanted.setdefault((item.dataset.name, item.dataset.digest), item)
    if not wanted:
        return
    dataset_ids = _dataset_ids(tx, experiment_id, wanted)
    missing = [item.dataset for key, item in wanted.items() if key not in dataset_ids]
    if missing:
        tx.many(
            _INSERT_DATASET,
            [{"experiment_id": experiment_id, **dataclasses.asdict(d)} for d in missing],
        )
        dataset_ids = _dataset_ids(tx, experiment_id, wanted)
    used = {row.dataset_id for row in tx.all(_INPUTS_OF_RUN, {"run_id": run_id})}
    new = [(dataset_ids[key], item) for key, item in wanted.items() if dataset_ids[key] not in used]
    if not new:
        return
    tx.many(_INSERT_INPUT, [{"run_id": run_id, "dataset_id": dataset_id} for dataset_id, _ in new])
    input_ids = {row.dataset_id: row.input_id for row in tx.all(_INPUTS_OF_RUN, {"run_id": run_id})}
    tx.many(
        _INSERT_INPUT_TAG,
        [
            {"input_id": input_ids[dataset_id], "key": tag.key, "value": tag.value}
            for dataset_id, item in new
            for tag in item.tags
        ],
    )


def _dataset_ids(
    tx: Tx, experiment_id: int, wanted: dict[tuple[str, str], Any]
) -> dict[tuple[str, str], int]:
    """Ids of the wanted datasets that the experiment already has."""
    names = sorted({name for name, _ in wanted})
    rows = tx.all(_DATASETS_NAMED, {"experiment_id": experiment_id, **ids_param(tx, names)})
    return {
        (row.name, row.digest): row.dataset_id for row in rows if (row.name, row.digest) in wanted
    }


def load_inputs(tx: Tx, run_ids: Sequence[str]) -> dict[str, RunInputs]:
    """The inputs of these runs (runs without any are absent), with one query."""
    if not run_ids:
        return {}
    per_run: dict[str, dict[int, tuple[Dataset, list[InputTag]]]] = {}
    for row in tx.all(_INPUTS_OF_RUNS, ids_param(tx, run_ids)):
        uses = per_run.setdefault(row.run_id, {})
        use = uses.get(row.input_id)
        if use is None:
            dataset = Dataset(
                row.name, row.digest, row.source_type, row.source, row.schema, row.profile
            )
            use = uses[row.input_id] = (dataset, [])
        if row.key is not None:
            use[1].append(InputTag(row.key, row.value))
    return {
        run_id: RunInputs(tuple(DatasetInput(d, tuple(tags)) for d, tags in uses.values()))
        for run_id, uses in per_run.items()
    }


def with_inputs(tx: Tx, runs: dict[str, Run]) -> dict[str, Run]:
    """``runs`` with their inputs filled in."""
    found = load_inputs(tx, list(runs))
    if not found:
        return runs
    return {
        run_id: dataclasses.replace(run, inputs=found[run_id]) if run_id in found else run
        for run_id, run in runs.items()
    }
