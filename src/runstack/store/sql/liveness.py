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
from sqlalchemy.engine import Connection

from runstack.store.sql import schema as t
from runstack.store.sql.writes import write_tags

KILLED_REASON_TAG = "runstack.killedReason"


def _expired(now: int) -> sa.ColumnElement[bool]:
    return sa.and_(t.runs.c.status == "RUNNING", t.runs.c.heartbeat_deadline < now)


def looks_dead(connection: Connection, run_id: str, now: int) -> bool:
    query = sa.select(t.runs.c.run_id).where(t.runs.c.run_id == run_id, _expired(now))
    return connection.execute(query).first() is not None


def any_dead(connection: Connection, now: int) -> bool:
    return connection.execute(sa.select(t.runs.c.run_id).where(_expired(now)).limit(1)).first() is not None


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).isoformat(timespec="seconds")


def reap(connection: Connection, now: int, run_ids: Sequence[str] | None = None) -> list[str]:
    """Mark expired runs KILLED (inside the caller's write transaction); returns their ids."""
    query = sa.select(t.runs.c.run_id, t.runs.c.heartbeat_time, t.runs.c.heartbeat_deadline).where(
        _expired(now)
    )
    if run_ids is not None:
        query = query.where(t.runs.c.run_id.in_(list(run_ids)))
    reaped = []
    for row in connection.execute(query).all():
        last_seen = row.heartbeat_time if row.heartbeat_time is not None else row.heartbeat_deadline
        changed = connection.execute(
            sa.update(t.runs)
            .where(t.runs.c.run_id == row.run_id, _expired(now))
            .values(status="KILLED", end_time=last_seen, heartbeat_deadline=None)
        ).rowcount
        if not changed:
            continue
        owner = dict(
            connection.execute(
                sa.select(t.tags.c.key, t.tags.c.value).where(
                    t.tags.c.run_id == row.run_id,
                    t.tags.c.key.in_(["runstack.host", "runstack.pid"]),
                )
            ).all()
        )
        process = f"pid {owner.get('runstack.pid', '?')} on {owner.get('runstack.host', '?')}"
        reason = (
            f"No heartbeat from its process ({process}) since {_iso(last_seen)}; the lease "
            f"expired at {_iso(row.heartbeat_deadline)}, so the process is presumed dead."
        )
        write_tags(connection, row.run_id, [(KILLED_REASON_TAG, reason)])
        reaped.append(row.run_id)
    return reaped


def renew(connection: Connection, run_ids: Sequence[str], now: int, timeout_ms: int) -> None:
    connection.execute(
        sa.update(t.runs)
        .where(t.runs.c.run_id.in_(list(run_ids)), t.runs.c.status == "RUNNING")
        .values(heartbeat_time=now, heartbeat_deadline=now + timeout_ms)
    )
