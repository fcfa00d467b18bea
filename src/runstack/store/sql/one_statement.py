"""PostgreSQL: the two commonest requests of a tracking server, each as one statement.

On PostgreSQL every statement is a network round trip, and an explicit transaction adds two
more (BEGIN, COMMIT). ``start_run`` as a transaction took five (BEGIN, read the experiment,
insert the run, insert its tags, COMMIT) and ``end_run`` four; as single statements run by
``Database.write_alone`` they take one each, which is most of a start+end's database time.

Each statement does the common case only and says whether it did: when it did not (missing
or deleted experiment, run or parent run), the store runs its ordinary transaction, which
checks everything again and raises the precise error. SQLite runs in process, where a round
trip costs next to nothing, so it keeps the ordinary transactions.
"""

from __future__ import annotations

import sqlalchemy as sa

from runstack.store.sql import schema as t
from runstack.store.sql.database import Prepared
from runstack.store.sql.rows import RUN_COLUMNS

# Inserts the run and its tags when the experiment exists and is active and the parent run,
# if any, exists and is active; returns the run's artifact URI, or no row when it inserted
# nothing. Every parameter is cast: in INSERT ... SELECT, PostgreSQL cannot infer their types.
CREATE_RUN = Prepared(
    sa.text(
        """
        WITH new_run AS (
            INSERT INTO runs (
                run_id, experiment_id, name, user_id, status, start_time, end_time,
                artifact_uri, lifecycle_stage, deleted_time, deleted_with_experiment,
                heartbeat_time, heartbeat_deadline
            )
            SELECT
                CAST(:run_id AS VARCHAR), e.experiment_id, CAST(:name AS VARCHAR),
                CAST(:user_id AS VARCHAR), 'RUNNING', CAST(:start_time AS BIGINT), NULL,
                COALESCE(NULLIF(e.artifact_location, ''), CAST(:default_location AS TEXT))
                    || '/' || CAST(:run_id AS VARCHAR) || '/artifacts',
                'active', NULL, false,
                CAST(:heartbeat_time AS BIGINT), CAST(:heartbeat_deadline AS BIGINT)
            FROM experiments AS e
            WHERE e.experiment_id = CAST(:experiment_id AS INTEGER)
              AND e.lifecycle_stage = 'active'
              AND (
                  CAST(:parent_run_id AS VARCHAR) IS NULL
                  OR EXISTS (
                      SELECT 1 FROM runs AS parent
                      WHERE parent.run_id = CAST(:parent_run_id AS VARCHAR)
                        AND parent.lifecycle_stage = 'active'
                  )
              )
            RETURNING run_id, artifact_uri
        ),
        new_tags AS (
            INSERT INTO tags (run_id, key, value)
            SELECT new_run.run_id, pairs.key, pairs.value
            FROM new_run,
                 unnest(CAST(:keys AS TEXT[]), CAST(:values AS TEXT[])) AS pairs(key, value)
        )
        SELECT artifact_uri FROM new_run
        """
    )
)

# Ends an active run: the run's row as RUN_BY_ID reads it, plus whether it has logged points
# still to fold (``unfolded``); no row when the run is missing or deleted.
_runs = t.runs.c
FINISH_RUN = Prepared(
    sa.update(t.runs)
    .where(_runs.run_id == sa.bindparam("run_id"), _runs.lifecycle_stage == "active")
    .values(
        status=sa.bindparam("status"),
        end_time=sa.bindparam("end_time"),
        heartbeat_deadline=None,
    )
    .returning(
        *RUN_COLUMNS,
        sa.exists().where(t.metric_log.c.run_id == sa.bindparam("run_id")).label("unfolded"),
    )
)
