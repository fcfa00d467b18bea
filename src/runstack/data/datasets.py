"""Dataset objects to log as run inputs (``log_input``): a DataFrame or arrays with a name, a
digest, a source, a schema and a profile, as MLflow's ``mlflow.data`` builds them.

The data itself is not stored: ``log_input`` records the dataset's description
(``_to_mlflow_entity``) and the run's use of it.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from runstack.data import digests, schemas, sources
from runstack.entities import Dataset as DatasetEntity
from runstack.errors import InvalidParameterError


class Dataset:
    """A dataset: ``name`` ("dataset" unless given), ``digest`` (computed unless given),
    ``source``, and the ``schema`` and ``profile`` its kind computes."""

    def __init__(
        self, source: sources.DatasetSource, name: str | None = None, digest: str | None = None
    ) -> None:
        self._source = source
        self._name = name
        self._digest = digest or self._compute_digest()

    def _compute_digest(self) -> str:
        raise NotImplementedError

    @property
    def name(self) -> str:
        return self._name if self._name is not None else "dataset"

    @property
    def digest(self) -> str:
        return self._digest

    @property
    def source(self) -> sources.DatasetSource:
        return self._source

    @property
    def profile(self) -> Any:
        return None

    def _schema_json(self) -> str | None:
        return None

    def to_dict(self) -> dict[str, Any]:
        """name, digest, source (JSON), source_type, schema (JSON or None), profile (JSON)."""
        return {
            "name": self.name,
            "digest": self.digest,
            "source": self.source.to_json(),
            "source_type": self.source._get_source_type(),
            "schema": self._schema_json(),
            "profile": json.dumps(self.profile),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def _to_mlflow_entity(self) -> DatasetEntity:
        """The entity ``log_input`` stores."""
        fields = self.to_dict()
        return DatasetEntity(
            name=fields["name"],
            digest=fields["digest"],
            source_type=fields["source_type"],
            source=fields["source"],
            schema=fields["schema"],
            profile=fields["profile"],
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} digest={self.digest!r}>"


class PandasDataset(Dataset):
    """A DataFrame, with optional ``targets`` and ``predictions`` column names."""

    def __init__(
        self,
        df: Any,
        source: sources.DatasetSource,
        targets: str | None = None,
        name: str | None = None,
        digest: str | None = None,
        predictions: str | None = None,
    ) -> None:
        for role, column in (("targets", targets), ("predictions", predictions)):
            if column is not None and column not in df.columns:
                raise InvalidParameterError(
                    f"The DataFrame has no {role} column {column!r}; its columns are "
                    f"{[str(c) for c in df.columns]}."
                )
        self._df = df
        self._targets = targets
        self._predictions = predictions
        super().__init__(source, name, digest)

    def _compute_digest(self) -> str:
        return digests.pandas_digest(self._df)

    @property
    def df(self) -> Any:
        return self._df

    @property
    def targets(self) -> str | None:
        return self._targets

    @property
    def predictions(self) -> str | None:
        return self._predictions

    @property
    def profile(self) -> Any:
        return {"num_rows": len(self._df), "num_elements": int(self._df.size)}

    @cached_property
    def _schema(self) -> str | None:
        return schemas.pandas_schema(self._df)

    def _schema_json(self) -> str | None:
        return self._schema


class NumpyDataset(Dataset):
    """Feature (and optional target) arrays, each an array or a dict of named arrays."""

    def __init__(
        self,
        features: Any,
        source: sources.DatasetSource,
        targets: Any = None,
        name: str | None = None,
        digest: str | None = None,
    ) -> None:
        self._features = features
        self._targets = targets
        super().__init__(source, name, digest)

    def _compute_digest(self) -> str:
        return digests.numpy_digest(self._features, self._targets)

    @property
    def features(self) -> Any:
        return self._features

    @property
    def targets(self) -> Any:
        return self._targets

    @property
    def profile(self) -> Any:
        def each(data: Any, attribute: str) -> Any:
            if isinstance(data, dict):
                return {key: _plain(getattr(array, attribute)) for key, array in data.items()}
            return _plain(getattr(data, attribute))

        profile = {}
        for role, data in (("features", self._features), ("targets", self._targets)):
            if data is not None:
                for attribute in ("shape", "size", "nbytes"):
                    profile[f"{role}_{attribute}"] = each(data, attribute)
        return profile

    def _schema_json(self) -> str | None:
        return schemas.numpy_schema(self._features, self._targets)


def _plain(value: Any) -> Any:
    """A shape or size as JSON-ready Python values."""
    return [int(v) for v in value] if isinstance(value, tuple) else int(value)


def _checked_arrays(value: Any, role: str) -> Any:
    import numpy as np  # type: ignore[import-untyped,import-not-found,unused-ignore]

    if isinstance(value, dict):
        return {str(key): np.asarray(array) for key, array in value.items()}
    if value is None and role == "targets":
        return None
    if value is None:
        raise InvalidParameterError("from_numpy needs features (an array or a dict of arrays).")
    return np.asarray(value)


def from_pandas(
    df: Any,
    source: Any = None,
    targets: str | None = None,
    name: str | None = None,
    digest: str | None = None,
    predictions: str | None = None,
) -> PandasDataset:
    """A dataset of a DataFrame. ``source``: a path, URI or DatasetSource; None means the
    code building it."""
    import pandas as pd  # type: ignore[import-untyped,import-not-found,unused-ignore]

    if not isinstance(df, pd.DataFrame):
        raise InvalidParameterError(
            f"from_pandas needs a pandas DataFrame, not {type(df).__name__}."
        )
    return PandasDataset(df, sources.resolve(source), targets, name, digest, predictions)


def from_numpy(
    features: Any,
    source: Any = None,
    targets: Any = None,
    name: str | None = None,
    digest: str | None = None,
) -> NumpyDataset:
    """A dataset of arrays (or dicts of arrays). ``source`` as for ``from_pandas``."""
    return NumpyDataset(
        _checked_arrays(features, "features"),
        sources.resolve(source),
        _checked_arrays(targets, "targets"),
        name,
        digest,
    )


def get_source(dataset: Any) -> sources.DatasetSource:
    """The source of a dataset object, a stored ``Dataset`` entity or a ``DatasetInput``."""
    if isinstance(dataset, Dataset):
        return dataset.source
    inner = getattr(dataset, "dataset", None)
    entity = inner if inner is not None else dataset
    if isinstance(entity, DatasetEntity) or (
        hasattr(entity, "source_type") and hasattr(entity, "source")
    ):
        return sources.from_entity(entity.source_type, entity.source)
    raise InvalidParameterError(
        f"{type(dataset).__name__} is not a dataset: pass a dataset from runstack.data, a "
        "Dataset entity or a DatasetInput."
    )
