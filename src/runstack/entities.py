"""The objects runstack hands back: runs, experiments, metrics, params, tags and inputs.

They have MLflow's names and fields so that code written against ``mlflow.entities`` reads
them unchanged. All of them are immutable; ``ActiveRun`` (in ``runstack.session.active_run``)
is the one exception that follows the run as it is logged to.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from runstack.errors import InvalidParameterError

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"


class RunStatus(enum.IntEnum):
    """A run's status; the integer values are MLflow's."""

    RUNNING = 1
    SCHEDULED = 2
    FINISHED = 3
    FAILED = 4
    KILLED = 5

    @staticmethod
    def to_string(status: int) -> str:
        return RunStatus(status).name

    @staticmethod
    def from_string(status: str) -> RunStatus:
        return RunStatus[status]

    @staticmethod
    def is_terminated(status: int | str) -> bool:
        name = status if isinstance(status, str) else RunStatus(status).name
        return name in ("FINISHED", "FAILED", "KILLED")

    @staticmethod
    def all_status() -> list[RunStatus]:
        return list(RunStatus)


class ViewType(enum.IntEnum):
    """Which lifecycle stages a listing includes; the integer values are MLflow's."""

    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3

    @staticmethod
    def from_string(view: str) -> ViewType:
        return ViewType[view.upper()]

    @staticmethod
    def to_string(view: int) -> str:
        """MLflow's lowercase name (``"active_only"``, ``"deleted_only"``, ``"all"``)."""
        return ViewType(view).name.lower()


class LifecycleStage:
    """Whether an experiment or run is active or (softly) deleted; MLflow's strings."""

    ACTIVE = "active"
    DELETED = "deleted"

    @classmethod
    def is_valid(cls, lifecycle_stage: str) -> bool:
        return lifecycle_stage in (cls.ACTIVE, cls.DELETED)

    @classmethod
    def view_type_to_stages(cls, view_type: int = ViewType.ALL) -> list[str]:
        """The stages a listing with ``view_type`` includes."""
        stages = []
        if view_type in (ViewType.ACTIVE_ONLY, ViewType.ALL):
            stages.append(cls.ACTIVE)
        if view_type in (ViewType.DELETED_ONLY, ViewType.ALL):
            stages.append(cls.DELETED)
        return stages

    @classmethod
    def matches_view_type(cls, view_type: int, lifecycle_stage: str) -> bool:
        if not cls.is_valid(lifecycle_stage):
            raise InvalidParameterError(f"Invalid lifecycle stage {lifecycle_stage!r}.")
        return lifecycle_stage in cls.view_type_to_stages(ViewType(view_type))


class SourceType(enum.IntEnum):
    """Where a run's code came from (tag ``mlflow.source.type``); MLflow's values."""

    NOTEBOOK = 1
    JOB = 2
    PROJECT = 3
    LOCAL = 4
    UNKNOWN = 5

    @staticmethod
    def to_string(source_type: int) -> str:
        return SourceType(source_type).name

    @staticmethod
    def from_string(source_type: str) -> SourceType:
        return SourceType[source_type]


@dataclass(frozen=True)
class Metric:
    key: str
    value: float
    timestamp: int
    step: int
    run_id: str | None = None


@dataclass(frozen=True)
class Param:
    key: str
    value: str


@dataclass(frozen=True)
class RunTag:
    key: str
    value: str


@dataclass(frozen=True)
class ExperimentTag:
    key: str
    value: str


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: str
    start_time: int
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str

    @property
    def run_uuid(self) -> str:
        """The deprecated alias MLflow's REST API still returns."""
        return self.run_id

    def to_dictionary(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "run_uuid": self.run_id,
            "experiment_id": self.experiment_id,
            "run_name": self.run_name,
            "user_id": self.user_id,
            "status": self.status,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "artifact_uri": self.artifact_uri,
            "lifecycle_stage": self.lifecycle_stage,
        }


@dataclass(frozen=True)
class RunData:
    """What a run logged: the latest value of each metric, its params and its tags."""

    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    # The Metric objects behind ``metrics`` (step and timestamp of each latest value).
    latest_metrics: tuple[Metric, ...] = ()


@dataclass(frozen=True)
class Dataset:
    """A dataset as MLflow records it: identified within an experiment by (name, digest).

    ``source`` and ``schema``/``profile`` are opaque text (MLflow writes JSON there)."""

    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None

    def to_dictionary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "digest": self.digest,
            "source_type": self.source_type,
            "source": self.source,
            "schema": self.schema,
            "profile": self.profile,
        }


@dataclass(frozen=True)
class InputTag:
    """A tag of one dataset input, such as its context (``mlflow.data.context``)."""

    key: str
    value: str


@dataclass(frozen=True)
class DatasetInput:
    """A dataset used by a run, with the tags of that use."""

    dataset: Dataset
    tags: tuple[InputTag, ...] = ()

    def __post_init__(self) -> None:
        # MLflow's callers pass lists; a tuple keeps the entity immutable and comparable.
        object.__setattr__(self, "tags", tuple(self.tags or ()))

    def to_dictionary(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset.to_dictionary(),
            "tags": {tag.key: tag.value for tag in self.tags},
        }


@dataclass(frozen=True)
class LoggedModelInput:
    """MLflow's logged-model input; runstack has no logged models and refuses to log one."""

    model_id: str


@dataclass(frozen=True)
class RunInputs:
    """What a run used: its dataset inputs in logging order (model inputs are always empty)."""

    dataset_inputs: tuple[DatasetInput, ...] = ()
    model_inputs: tuple[LoggedModelInput, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "dataset_inputs", tuple(self.dataset_inputs or ()))
        object.__setattr__(self, "model_inputs", tuple(self.model_inputs or ()))

    def to_dictionary(self) -> dict[str, Any]:
        return {
            "model_inputs": [{"model_id": m.model_id} for m in self.model_inputs],
            "dataset_inputs": [d.to_dictionary() for d in self.dataset_inputs],
        }


@dataclass(frozen=True)
class Run:
    info: RunInfo
    data: RunData
    inputs: RunInputs = field(default_factory=RunInputs)

    def to_dictionary(self) -> dict[str, Any]:
        return {
            "info": self.info.to_dictionary(),
            "data": {
                "metrics": dict(self.data.metrics),
                "params": dict(self.data.params),
                "tags": dict(self.data.tags),
            },
            "inputs": self.inputs.to_dictionary(),
        }


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    tags: dict[str, str] = field(default_factory=dict)
    creation_time: int | None = None
    last_update_time: int | None = None


@dataclass(frozen=True)
class FileInfo:
    """One entry of an artifact listing: ``path`` relative to the run's artifact root,
    "/"-separated; ``file_size`` in bytes, None for a directory (as MLflow)."""

    path: str
    is_dir: bool
    file_size: int | None = None


class PagedList(list[Any]):
    """A page of results with the token that fetches the next page (None on the last)."""

    def __init__(self, items: list[Any], token: str | None) -> None:
        super().__init__(items)
        self.token = token
