"""The system tag names runstack reads or writes: MLflow's (``mlflow.*``, with the meaning
MLflow gives them, so MLflow's clients and UI understand runstack's runs) and runstack's own
(``runstack.*``).

Every module names these tags through this one, so a tag is spelled once.
"""

from __future__ import annotations

# MLflow's run tags ----------------------------------------------------------------------------

# The run's name; kept equal to RunInfo.run_name (setting the tag renames the run).
RUN_NAME = "mlflow.runName"
# The run id of a nested run's parent.
PARENT_RUN_ID = "mlflow.parentRunId"
# Who started the run (``MLFLOW_TRACKING_USERNAME``, else the login name).
USER = "mlflow.user"
# The run's description (``start_run(description=...)``).
NOTE = "mlflow.note.content"
# The script that started the run, and what kind of source it is (LOCAL).
SOURCE_NAME = "mlflow.source.name"
SOURCE_TYPE = "mlflow.source.type"
# The git commit and branch the script's repository was at.
GIT_COMMIT = "mlflow.source.git.commit"
GIT_BRANCH = "mlflow.source.git.branch"

# The tables logged with ``log_table``, as a JSON list of {"path": ..., "type": "table"}: what
# ``load_table`` searches for, and MLflow's UI's list of a run's tables.
LOGGED_ARTIFACTS = "mlflow.loggedArtifacts"
# "true" once ``log_image`` logged an image with a key (step-indexed images).
LOGGED_IMAGES = "mlflow.loggedImages"

# MLflow's dataset-input tags -------------------------------------------------------------------

# How a run used a dataset ("training", "eval", ...): a tag of the input, not of the run.
DATA_CONTEXT = "mlflow.data.context"

# runstack's run tags ---------------------------------------------------------------------------

# The host and process id that own the run, named when a dead run is reaped.
HOST = "runstack.host"
PID = "runstack.pid"
# Why a run was marked KILLED by the reaper (its heartbeats stopped).
KILLED_REASON = "runstack.killedReason"

# MLflow's names for its tags (``mlflow.utils.mlflow_tags``), for scripts that import them ---------

MLFLOW_RUN_NAME = RUN_NAME
MLFLOW_PARENT_RUN_ID = PARENT_RUN_ID
MLFLOW_USER = USER
MLFLOW_RUN_NOTE = NOTE
MLFLOW_SOURCE_NAME = SOURCE_NAME
MLFLOW_SOURCE_TYPE = SOURCE_TYPE
MLFLOW_GIT_COMMIT = GIT_COMMIT
MLFLOW_GIT_BRANCH = GIT_BRANCH
MLFLOW_DATASET_CONTEXT = DATA_CONTEXT
MLFLOW_LOGGED_ARTIFACTS = LOGGED_ARTIFACTS
MLFLOW_LOGGED_IMAGES = LOGGED_IMAGES
