"""``runstack gc``'s artifact half: delete the artifacts of runs before their rows go.

A run (or experiment) whose artifacts cannot be deleted is kept, and said so, so that no
artifact is left behind without a run pointing at it. Runs logged through a tracking server
(``mlflow-artifacts:`` URIs) need the server's artifacts destination; without one they are
kept and counted in ``unresolved``.
"""

from __future__ import annotations

from collections.abc import Sequence

from runstack.artifacts.cleanup import delete_run_artifacts
from runstack.artifacts.registry import scheme_of
from runstack.errors import RunstackError
from runstack.store.sql import artifact_uris
from runstack.store.sql.database import Database


class ArtifactSweeper:
    def __init__(self, db: Database, destination: str | None) -> None:
        self.db = db
        self.destination = destination
        self.freed = 0
        self.problems: list[str] = []
        # Runs kept because their mlflow-artifacts: files have no known destination.
        self.unresolved: dict[str, None] = {}
        self.served = 0  # runs whose mlflow-artifacts: files were deleted

    def _delete(self, uris: dict[str, str]) -> list[str]:
        """Delete each run's artifacts; return the run ids whose artifacts are gone."""
        done = []
        for run_id, uri in uris.items():
            served = scheme_of(uri) == "mlflow-artifacts"
            if served and self.destination is None:
                self.unresolved[run_id] = None
                continue
            try:
                self.freed += delete_run_artifacts(run_id, uri, self.destination)
            except (OSError, RunstackError) as error:
                message = error.message if isinstance(error, RunstackError) else str(error)
                self.problems.append(f"run {run_id}: its artifacts could not be deleted: {message}")
                continue
            done.append(run_id)
            self.served += served
        return done

    def sweep_runs(self, run_ids: Sequence[str]) -> list[str]:
        """The runs that may now be removed (their artifacts are deleted)."""
        return self._delete(artifact_uris.of_runs(self.db, run_ids))

    def sweep_experiment(self, experiment_id: str) -> bool:
        """Whether the experiment may now be removed (all its runs' artifacts deleted)."""
        uris = artifact_uris.of_experiment(self.db, experiment_id)
        if len(self._delete(uris)) == len(uris):
            return True
        self.problems.append(f"experiment {experiment_id}: some of its runs' artifacts remain")
        return False
