"""Listing runs and experiments: one page at a time, newest first.

Filter strings and custom orderings are parsed by ``runstack.search``; this module runs the
resulting queries and turns rows into entities.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

import sqlalchemy as sa

from runstack.entities import PagedList, ViewType
from runstack.errors import InvalidParameterError
from runstack.store.sql import schema as t
from runstack.store.sql.database import Database, Tx
from runstack.store.sql.rows import load_experiments, load_runs

MAX_RESULTS_LIMIT = 50_000


def _stages(view_type: ViewType) -> list[str]:
    if view_type == ViewType.ACTIVE_ONLY:
        return ["active"]
    if view_type == ViewType.DELETED_ONLY:
        return ["deleted"]
    return ["active", "deleted"]


def check_max_results(max_results: int) -> None:
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise InvalidParameterError(
            f"Invalid max_results {max_results!r}: it must be a positive integer."
        )
    if max_results > MAX_RESULTS_LIMIT:
        raise InvalidParameterError(
            f"Invalid max_results {max_results}: it must be at most {MAX_RESULTS_LIMIT}."
        )


def _require_plain(filter_string: str | None, order_by: Sequence[str] | None) -> None:
    if filter_string and filter_string.strip():
        raise InvalidParameterError(
            f"Filter {filter_string!r} cannot be used yet: this runstack lists runs and "
            "experiments without filters only."
        )
    if order_by:
        raise InvalidParameterError(
            f"order_by {list(order_by)!r} cannot be used yet: results come newest first."
        )


def _decode_token(token: str | None, kind: str) -> list[object] | None:
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if data.get("kind") != kind:
            raise ValueError(kind)
        after = data["after"]
        if not isinstance(after, list):
            raise ValueError(after)
        return after
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InvalidParameterError(
            f"Invalid page token {token!r}: pass back the token from the previous page."
        ) from None


def _encode_token(kind: str, after: list[object]) -> str:
    raw = json.dumps({"kind": kind, "after": after}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def search_runs(
    db: Database,
    experiment_ids: Sequence[str],
    filter_string: str | None,
    view_type: ViewType,
    max_results: int,
    order_by: Sequence[str] | None,
    page_token: str | None,
) -> PagedList:
    """Runs of these experiments, newest first then by id, keyset-paged."""
    check_max_results(max_results)
    _require_plain(filter_string, order_by)
    after = _decode_token(page_token, "runs")
    ids = [int(e) for e in experiment_ids]

    def query(tx: Tx) -> PagedList:
        r = t.runs.c
        select = sa.select(r.run_id, r.start_time).where(
            r.experiment_id.in_(ids), r.lifecycle_stage.in_(_stages(view_type))
        )
        if after is not None:
            start, run_id = after
            select = select.where(
                sa.or_(r.start_time < start, sa.and_(r.start_time == start, r.run_id > run_id))
            )
        select = select.order_by(r.start_time.desc(), r.run_id.asc()).limit(max_results + 1)
        rows = tx.all(select)
        page = rows[:max_results]
        runs = load_runs(tx, [row.run_id for row in page])
        token = None
        if len(rows) > max_results:
            token = _encode_token("runs", [page[-1].start_time, page[-1].run_id])
        return PagedList([runs[row.run_id] for row in page], token)

    if not ids:
        return PagedList([], None)
    return db.read(query)


def search_experiments(
    db: Database,
    artifact_root: str,
    view_type: ViewType,
    max_results: int,
    filter_string: str | None,
    order_by: Sequence[str] | None,
    page_token: str | None,
) -> PagedList:
    """Experiments, newest first then by id, keyset-paged."""
    check_max_results(max_results)
    _require_plain(filter_string, order_by)
    after = _decode_token(page_token, "experiments")

    def query(tx: Tx) -> PagedList:
        e = t.experiments.c
        where = e.lifecycle_stage.in_(_stages(view_type))
        if after is not None:
            created, experiment_id = after
            where = sa.and_(
                where,
                sa.or_(
                    e.creation_time < created,
                    sa.and_(e.creation_time == created, e.experiment_id > experiment_id),
                ),
            )
        ids = tx.all(
            sa.select(e.experiment_id, e.creation_time)
            .where(where)
            .order_by(e.creation_time.desc(), e.experiment_id.asc())
            .limit(max_results + 1)
        )
        page = ids[:max_results]
        found = {
            int(x.experiment_id): x
            for x in load_experiments(
                tx, e.experiment_id.in_([row.experiment_id for row in page]), artifact_root
            )
        }
        token = None
        if len(ids) > max_results:
            token = _encode_token(
                "experiments", [page[-1].creation_time, page[-1].experiment_id]
            )
        return PagedList([found[row.experiment_id] for row in page], token)

    return db.read(query)
