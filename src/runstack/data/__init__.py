"""MLflow's ``mlflow.data``: dataset objects to record as run inputs with ``log_input``.

``from_pandas`` and ``from_numpy`` describe a DataFrame or arrays (name, digest, source,
schema, profile) as MLflow does, with the same digests; ``get_source`` reads a logged
dataset's source back. Under ``runstack run``, ``mlflow.data`` is this module. Other MLflow
dataset kinds (Spark, Hugging Face, TensorFlow, Delta) are not provided.
"""

from __future__ import annotations

from runstack.data.datasets import (
    Dataset,
    NumpyDataset,
    PandasDataset,
    from_numpy,
    from_pandas,
    get_source,
)
from runstack.data.sources import (
    CodeDatasetSource,
    DatasetSource,
    HTTPDatasetSource,
    LocalArtifactDatasetSource,
    S3DatasetSource,
)

__all__ = [
    "CodeDatasetSource",
    "Dataset",
    "DatasetSource",
    "HTTPDatasetSource",
    "LocalArtifactDatasetSource",
    "NumpyDataset",
    "PandasDataset",
    "S3DatasetSource",
    "from_numpy",
    "from_pandas",
    "get_source",
]
