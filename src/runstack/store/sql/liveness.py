"""Dead-run detection: a RUNNING run whose heartbeat lease expired is marked KILLED.

The process that owns a run renews ``heartbeat_deadline`` every interval. Readers (get,
search, the server, gc) call ``reap`` when they meet an expired lease, so a run whose process
was killed with SIGKILL or by the OOM killer reads back as KILLED, with its last heartbeat as
its end time, without any server or daemon. Runs with no lease are never reaped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa

from runstack.store.sql import schema as t
from runstack.store.sql.database import Prepared, Tx
from runstack.store.sql.writes import fold_run, write_tags
from runstack.tags import HOST, KILLED_REASON, PID

_NOW: sa.BindParameter[int] = sa.bindparam("now")


def _expired() -> sa.ColumnElement[bool]:
    return sa.and_(t.runs.c.status == "RUNNING", t.runs.c.heartbeat_deadline < _NOW)


_RUN_EXPIRED = Prepared(
    sa.select(t.runs.c.run_id).where(t.runs.c.run_id == sa.bindparam("run_id"), _expired())
)
_ANY_EXPIRED = Prepared(sa.select(t.runs.c.run_id).where(_expired()).limit(1))
_KILL = Prepared(
    sa.update(t.runs)
    .where(t.runs.c.run_id == sa.bindparam("run_id"), _expired())
    .values(status="KILLED", end_time=sa.bindparam("last_seen"), heartbeat_deadline=None)
)


def looks_dead(tx: Tx, run_id: str, now: int) -> bool:
    return tx.first(_RUN_EXPIRED, {"run_id": run_id, "now": now}) is not None


def any_dead(tx: Tx, now: int) -> bool:
    return tx.first(_ANY_EXPIRED, {"now": now}) is not None


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).isoformat(timespec="seconds")


def reap(tx: Tx, now: int, run_ids: Sequence[str] | None = None) -> list[str]:
    """Mark expired runs KILLED (inside the caller's write transaction); returns their ids."""
    r = t.runs.c
    query = sa.select(r.run_id, r.heartbeat_time, r.heartbeat_deadline).where(
        r.status == "RUNNING", r.heartbeat_deadline < now
    )
    if run_ids is not None:
        query = query.where(r.run_id.in_(list(run_ids)))
    reaped = []
    for row in tx.all(query):
        last_seen = row.heartbeat_time if row.heartbeat_time is not None else row.heartbeat_deadline
        if not tx.run(_KILL, {"run_id": row.run_id, "now": now, "last_seen": last_seen}):
            continue  # renewed or ended meanwhile
        owner = {
            tag.key: tag.value
            for tag in tx.all(
                sa.select(t.tags.c.key, t.tags.c.value).where(
                    t.tags.c.run_id == row.run_id,
                    t.tags.c.key.in_([HOST, PID]),
                )
            )
        }
        process = f"pid {owner.get(PID, '?')} on {owner.get(HOST, '?')}"
        reason = (
            f"No heartbeat from its process ({process}) since {_iso(last_seen)}; the lease "
            f"expired at {_iso(row.heartbeat_deadline)}, so the process is presumed dead."
        )
        write_tags(tx, row.run_id, [(KILLED_REASON, reason)])
        fold_run(tx, row.run_id)  # as when a run ends: its logged points go to their blocks
        reaped.append(row.run_id)
    return reaped


def renew(tx: Tx, run_ids: Sequence[str], now: int, timeout_ms: int) -> None:
    tx.run(
        sa.update(t.runs)
        .where(t.runs.c.run_id.in_(list(run_ids)), t.runs.c.status == "RUNNING")
        .values(heartbeat_time=now, heartbeat_deadline=now + timeout_ms)
    )
