"""The artifact half of ``TrackingClient`` (MLflow's ``MlflowClient`` artifact methods).

Each run's artifacts live at its ``artifact_uri``; the client resolves that once per run to
a repository (``registry.repository_for``, with the tracking URI for ``mlflow-artifacts:``)
and keeps it. In-memory objects (text, dicts, figures, images, tables) are encoded by
``encoders`` and written atomically like files.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runstack.artifacts.paths import join, safe_file_name, safe_relative_path
from runstack.artifacts.registry import repository_for
from runstack.artifacts.repository import ArtifactRepository
from runstack.entities import FileInfo
from runstack.errors import InvalidParameterError, LocalPathNotFoundError, ResourceNotFoundError
from runstack.tags import LOGGED_ARTIFACTS as LOGGED_ARTIFACTS_TAG
from runstack.tags import LOGGED_IMAGES as LOGGED_IMAGES_TAG

if TYPE_CHECKING:
    from runstack.entities import PagedList, Run

# encoders (json, optional libraries) and tempfile are imported by the methods that need
# them, so that ``import runstack`` does not pay for them.

_MAX_CACHED_REPOSITORIES = 256
logger = logging.getLogger(__name__)


def _local_source(local_path: object, what: str) -> Path:
    if not isinstance(local_path, (str, os.PathLike)):
        raise InvalidParameterError(
            f"Invalid {what} {local_path!r}: expected a path, got {type(local_path).__name__}."
        )
    path = Path(local_path)
    if not path.exists():
        raise LocalPathNotFoundError(f"Cannot log {str(path)!r}: no such file or folder.")
    return path


def _split(artifact_file: str) -> tuple[str, str]:
    """(folder, file name) of a checked artifact file path."""
    folder, _, name = safe_file_name(artifact_file).rpartition("/")
    return folder, name


class ArtifactMethods:
    """Mixed into ``TrackingClient``: every artifact operation, addressed by run id."""

    if TYPE_CHECKING:
        tracking_uri: str

        def get_run(self, run_id: str) -> Run: ...

        def set_tag(
            self, run_id: str, key: str, value: Any, synchronous: bool | None = None
        ) -> Any: ...

        def search_runs(
            self,
            experiment_ids: list[str] | str,
            filter_string: str = "",
            run_view_type: int = 1,
            max_results: int = 1000,
            order_by: list[str] | None = None,
            page_token: str | None = None,
        ) -> PagedList: ...

    def artifact_repository(self, run_id: str) -> ArtifactRepository:
        """The repository holding ``run_id``'s artifacts (looked up once per run)."""
        cache: OrderedDict[str, ArtifactRepository] = self.__dict__.setdefault(
            "_artifact_repositories", OrderedDict()
        )
        repository = cache.get(run_id)
        if repository is None:
            uri = self.get_run(run_id).info.artifact_uri
            repository = repository_for(uri, self.tracking_uri)
            cache[run_id] = repository
            if len(cache) > _MAX_CACHED_REPOSITORIES:
                cache.popitem(last=False)
        return repository

    # Files ---------------------------------------------------------------------------------

    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None) -> None:
        """Copy a local file (or a folder, as a folder of that name) into the run's artifacts,
        under ``artifact_path`` when given."""
        source = _local_source(local_path, "local_path")
        folder = safe_relative_path(artifact_path)  # every check before any store call
        if source.is_dir():
            name = source.resolve().name if source.name in ("", ".", "..") else source.name
            self.artifact_repository(run_id).log_directory(source, join(folder, name))
        else:
            self.artifact_repository(run_id).log_file(source, folder)

    def log_artifacts(self, run_id: str, local_dir: str, artifact_path: str | None = None) -> None:
        """Copy the contents of a local folder into the run's artifacts (under
        ``artifact_path`` when given)."""
        source = _local_source(local_dir, "local_dir")
        folder = safe_relative_path(artifact_path)
        self.artifact_repository(run_id).log_directory(source, folder)

    # In-memory objects ---------------------------------------------------------------------

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """Write ``text`` (UTF-8) as the artifact ``artifact_file`` ("dir/file.txt")."""
        from runstack.artifacts import encoders

        data = encoders.text_bytes(text)
        checked = safe_file_name(artifact_file)
        self.artifact_repository(run_id).write_bytes(data, checked)

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        """Write ``dictionary`` as YAML (.yml/.yaml) or JSON (any other name)."""
        from runstack.artifacts import encoders

        checked = safe_file_name(artifact_file)
        data = encoders.dict_bytes(dictionary, checked)
        self.artifact_repository(run_id).write_bytes(data, checked)

    def _log_through_file(self, run_id: str, artifact_file: str, write: Any) -> None:
        """Let ``write(path)`` produce the file, then log it as ``artifact_file``."""
        import tempfile

        folder, name = _split(artifact_file)
        repository = self.artifact_repository(run_id)
        with tempfile.TemporaryDirectory(prefix="runstack-artifact-") as scratch:
            path = Path(scratch) / name
            write(path)
            repository.log_file(path, folder)

    def log_figure(
        self,
        run_id: str,
        figure: Any,
        artifact_file: str,
        *,
        save_kwargs: dict[str, Any] | None = None,
    ) -> None:
        """Save a matplotlib or plotly figure as ``artifact_file`` (format from its name)."""
        from runstack.artifacts import encoders

        checked = safe_file_name(artifact_file)
        self._log_through_file(
            run_id, checked, lambda path: encoders.save_figure(figure, path, checked, save_kwargs)
        )

    def log_image(
        self,
        run_id: str,
        image: Any,
        artifact_file: str | None = None,
        key: str | None = None,
        step: int | None = None,
        timestamp: int | None = None,
        synchronous: bool | None = None,
    ) -> None:
        """Save a numpy array or PIL image as ``artifact_file`` (format from its name), or,
        with ``key`` (and ``step``, ``timestamp``), as one step of MLflow's time-stepped
        images: ``images/<key>+step+<step>+timestamp+<ms>+<uuid>.png`` plus a compressed
        ``.webp`` (at most 256 px), and the run tag ``mlflow.loggedImages``. The files are
        always written before this returns; ``synchronous`` applies to the tag."""
        from runstack.artifacts import encoders

        if artifact_file is not None and (key, step, timestamp) != (None, None, None):
            raise InvalidParameterError(
                "log_image: give artifact_file= alone, or key= (with step= and timestamp=), "
                "not both."
            )
        if artifact_file is None and key is None:
            raise InvalidParameterError(
                "log_image needs artifact_file= (a file such as 'image.png') or key= (a "
                "time-stepped image)."
            )
        picture = encoders.to_pil_image(image)
        if artifact_file is not None:
            self._log_through_file(run_id, safe_file_name(artifact_file), picture.save)
            return
        assert key is not None
        base = encoders.stepped_image_name(key, step, timestamp)
        self._log_through_file(run_id, f"{base}.png", picture.save)
        compressed = encoders.compress_image(picture)
        self._log_through_file(run_id, f"{base}+compressed.webp", compressed.save)
        self.set_tag(run_id, LOGGED_IMAGES_TAG, "true", synchronous=synchronous)

    def log_table(self, run_id: str, data: Any, artifact_file: str) -> None:
        """Write a dict or DataFrame as a table (.json in MLflow's "split" layout, or
        .parquet); an existing table of that name is appended to, as MLflow does."""
        import tempfile

        from runstack.artifacts import encoders
        from runstack.artifacts.optional import require

        checked = safe_file_name(artifact_file)
        encoders.check_table_file(checked)
        frame = encoders.table_frame(data)
        repository = self.artifact_repository(run_id)
        folder, name = _split(checked)
        if any(info.path == checked for info in repository.list(folder)):
            pd = require("pandas", "pandas", "log_table")
            with tempfile.TemporaryDirectory(prefix="runstack-artifact-") as scratch:
                existing = encoders.read_table(repository.download(checked, Path(scratch)), name)
            frame = pd.concat([existing, frame], ignore_index=True)
        self._log_through_file(
            run_id, checked, lambda path: encoders.write_table(frame, path, checked)
        )
        self._note_logged_table(run_id, checked)

    def _note_logged_table(self, run_id: str, artifact_file: str) -> None:
        """Keep MLflow's ``mlflow.loggedArtifacts`` tag (the UI's list of tables) up to date."""
        import json

        current = self.get_run(run_id).data.tags.get(LOGGED_ARTIFACTS_TAG, "[]")
        try:
            entries = json.loads(current)
        except ValueError:
            entries = []
        entry = {"path": artifact_file, "type": "table"}
        if entry not in entries:
            entries.append(entry)
            self.set_tag(run_id, LOGGED_ARTIFACTS_TAG, json.dumps(entries), synchronous=True)

    # Reading -------------------------------------------------------------------------------

    def load_table(
        self,
        experiment_id: str,
        artifact_file: str,
        run_ids: list[str] | None = None,
        extra_columns: list[str] | None = None,
    ) -> Any:
        """The table ``artifact_file`` (logged with ``log_table``) of every run of the
        experiment that has it, or of those of ``run_ids``, as one pandas DataFrame.

        ``extra_columns`` names columns of ``search_runs``' DataFrame (``run_id``,
        ``status``, ``params.lr``, ...) added to each run's rows; a name the table already
        has gets a trailing ``_``, as in MLflow."""
        import json
        import tempfile

        from runstack.artifacts import encoders
        from runstack.run_frames import import_pandas, runs_to_dataframe

        pd = import_pandas()
        checked = safe_file_name(artifact_file)
        encoders.check_table_file(checked)
        wanted = {"path": checked, "type": "table"}

        def has_table(run: Run) -> bool:
            try:
                entries = json.loads(run.data.tags.get(LOGGED_ARTIFACTS_TAG, "[]"))
            except ValueError:
                return False
            return isinstance(entries, list) and wanted in entries

        runs = [run for run in self._all_runs(experiment_id) if has_table(run)]
        if run_ids is not None:
            chosen = set(run_ids)
            runs = [run for run in runs if run.info.run_id in chosen]
            if len(runs) < len(chosen):
                logger.warning(
                    "load_table: %d of the %d runs given have no table %r; they are skipped.",
                    len(chosen) - len(runs), len(chosen), checked,
                )  # fmt: skip
        if not runs:
            raise ResourceNotFoundError(
                f"No runs found with the table artifact {checked!r} in experiment "
                f"{experiment_id!r}."
            )
        info = runs_to_dataframe(runs)
        unknown = [c for c in extra_columns or [] if c not in info.columns]
        if unknown:
            raise InvalidParameterError(
                f"load_table: unknown extra column(s) {unknown}; use columns of search_runs' "
                f"DataFrame, such as {list(info.columns[:6])}."
            )
        frames = []
        with tempfile.TemporaryDirectory(prefix="runstack-table-") as scratch:
            for position, run in enumerate(runs):
                target = Path(scratch) / str(position)
                target.mkdir()
                try:
                    local = self.artifact_repository(run.info.run_id).download(checked, target)
                except ResourceNotFoundError:
                    raise ResourceNotFoundError(
                        f"Artifact {checked!r} not found for run {run.info.run_id!r}."
                    ) from None
                frame = encoders.read_table(local, checked)
                for column in extra_columns or []:
                    name = f"{column}_" if column in frame.columns else column
                    frame[name] = info.iloc[position][column]
                frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def _all_runs(self, experiment_id: str) -> list[Run]:
        """Every active run of one experiment, newest first, fetched page by page."""
        runs: list[Run] = []
        token = None
        while True:
            page = self.search_runs(
                [experiment_id], "tags.`mlflow.loggedArtifacts` LIKE '%table%'",
                max_results=1000, page_token=token,
            )  # fmt: skip
            runs.extend(page)
            token = page.token
            if not token:
                return runs

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """The files and folders directly under ``path`` (the root when None), sorted."""
        relative = safe_relative_path(path)
        return self.artifact_repository(run_id).list(relative)

    def download_artifacts(self, run_id: str, path: str, dst_path: str | None = None) -> str:
        """A local path holding the artifact file or folder ``path``.

        Into ``dst_path`` (made when missing) when given, keeping ``path``'s folders; else a
        local store's own file is returned as is and others go to a new temporary folder."""
        relative = safe_relative_path(path)
        repository = self.artifact_repository(run_id)
        return fetch(repository, relative, dst_path)


def fetch(repository: ArtifactRepository, relative: str, dst_path: str | None) -> str:
    """Download ``relative`` from ``repository`` following MLflow's destination rules: into
    ``dst_path`` (created with its parents when missing, as MLflow 3 does), else a local
    artifact in place, else a new temporary folder."""
    import tempfile

    if dst_path is None:
        local_path = getattr(repository, "local_path", None)
        if local_path is not None:
            found: Path = local_path(relative)
            if not found.exists():
                raise ResourceNotFoundError(f"No artifact {relative!r} in {repository.root_uri!r}.")
            return str(found)
        destination = Path(tempfile.mkdtemp(prefix="runstack-download-"))
    else:
        destination = Path(dst_path).absolute()
        if not destination.exists():
            destination.mkdir(parents=True)
        elif not destination.is_dir():
            raise InvalidParameterError(f"The destination {str(destination)!r} is not a folder.")
    return str(repository.download(relative, destination))


def split_uri_path(uri: str) -> tuple[str, str]:
    """(parent URI, last path segment): how MLflow addresses a file given by a full URI.

    A URI with nothing after its scheme and host (``s3://bucket``) is its own parent."""
    stripped = uri.rstrip("/") or uri
    scheme_end = stripped.find("://")
    start = scheme_end + 3 if scheme_end >= 0 else 0
    cut = stripped.rfind("/", start)
    if cut < start or cut == len(stripped) - 1:
        return stripped, ""
    if cut == 0:
        return "/", stripped[1:]
    return stripped[:cut], stripped[cut + 1 :]
