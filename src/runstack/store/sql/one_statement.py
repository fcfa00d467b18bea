"""PostgreSQL: a new run, its checks and its tags as one statement.

On PostgreSQL every statement is a network round trip, and an explicit transaction adds two
more (BEGIN, COMMIT). ``start_run`` as a transaction took five (BEGIN, read the experiment,
insert the run, insert its tags, COMMIT); as the single statement below, run by
``Database.write_alone``, it takes one. (``end_run`` and a metrics-only logging call are one
statement already: the store's ``_SET_TERMINAL`` and ``writes._APPEND_BATCH_IF_ACTIVE``.)

The statement does the common case only and says whether it did: when it did not (missing
or deleted experiment or parent run), the store runs its ordinary transaction, which checks
everything again and raises the precise error. SQLite runs in process, where a round trip
costs next to nothing, so it keeps the ordinary transaction.
"""

from __future__ import annotations

import sqlalchemy as sa

from runstack.store.sql.database import Prepared

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
