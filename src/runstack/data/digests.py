"""Dataset digests computed as MLflow computes them, so the same data gets the same 8-character
digest under either (a dataset is identified within an experiment by name and digest).

Only the first 10,000 rows (or values) are hashed, with the full length and shape, so large
datasets are fingerprinted quickly.
"""

from __future__ import annotations

import hashlib
from typing import Any

_ROWS = 10_000


def _md5(parts: list[Any]) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    for part in parts:
        md5.update(part)
    return md5.hexdigest()[:8]


def pandas_digest(frame: Any) -> str:
    """The digest of a DataFrame: its string and numeric columns' row hashes, its length and
    its column names."""
    import numpy as np  # type: ignore[import-untyped,import-not-found,unused-ignore]
    import pandas as pd  # type: ignore[import-untyped,import-not-found,unused-ignore]

    head = frame.head(_ROWS)
    all_strings = frame.map(lambda value: type(value) is str).all(axis=0)
    strings = head.columns[all_strings]
    numbers = head.select_dtypes(include=[np.number]).columns
    kept = head[strings.union(numbers)]
    parts: list[Any] = [pd.util.hash_pandas_object(kept).values, np.int64(len(frame))]
    return _md5(parts + [str(column).encode() for column in frame.columns])


def numpy_digest(features: Any, targets: Any = None) -> str:
    """The digest of arrays (or dicts of arrays, by key): the first values' hashes and every
    dimension."""
    import numpy as np  # type: ignore[import-untyped,import-not-found,unused-ignore]
    import pandas as pd  # type: ignore[import-untyped,import-not-found,unused-ignore]

    parts: list[Any] = []

    def add(array: Any) -> None:
        flat = array.flatten()[:_ROWS]
        try:
            parts.append(pd.util.hash_array(flat))
        except TypeError:  # values pandas cannot hash: their count stands in
            parts.append(np.int64(flat.size))
        parts.extend(np.int64(size) for size in array.shape)

    for item in (features, targets):
        if isinstance(item, dict):
            for key in sorted(item):
                add(item[key])
        elif item is not None:
            add(item)
    return _md5(parts)
