"""``ActiveRun``: the object ``start_run`` returns, a ``Run`` that stays current.

Unlike MLflow's snapshot, its ``info`` and ``data`` show what this process has logged to the
run since (it re-reads the run only after a write). As a context manager it ends *its own*
run, first ending any runs still open above it, innermost first.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from runstack import run_versions
from runstack.entities import Run, RunData, RunInfo, RunInputs
from runstack.session.ending import end_run_and_those_above, status_for_exception

if TYPE_CHECKING:
    from runstack.client import TrackingClient


class ActiveRun(Run):
    """A run started or resumed by ``start_run``; use it in a ``with`` block to end it."""

    def __init__(self, run: Run, client: TrackingClient) -> None:
        self._client = client
        self._run_id = run.info.run_id
        self._cached = run
        self._cached_version = run_versions.version(self._run_id)

    @property
    def run_id(self) -> str:
        return self._run_id

    @property
    def tracking_uri(self) -> str:
        return self._client.tracking_uri

    @property
    def client(self) -> TrackingClient:
        return self._client

    def _current(self) -> Run:
        seen = run_versions.version(self._run_id)
        if seen != self._cached_version:
            self._cached = self._client.get_run(self._run_id)
            self._cached_version = seen
        return self._cached

    def take_end(self, info: RunInfo, version_before: int) -> None:
        """Keep ``info``, the store's answer to this process ending the run, as the cached
        info: no read when the run is looked at after its end (``run.info.run_id``), as long
        as the cached copy was current before the end and nothing else wrote since."""
        if self._cached_version == version_before == run_versions.version(self._run_id) - 1:
            self._cached = Run(info=info, data=self._cached.data, inputs=self._cached.inputs)
            self._cached_version = version_before + 1

    @property
    def info(self) -> RunInfo:
        return self._current().info

    @property
    def data(self) -> RunData:
        return self._current().data

    @property
    def inputs(self) -> RunInputs:
        return self._current().inputs

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"<ActiveRun: run_id={self._run_id!r}, status={self._cached.info.status!r}>"

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        end_run_and_those_above(self, status_for_exception(exc_type, exc))
