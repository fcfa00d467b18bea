"""In-memory objects to artifact files, in MLflow's formats: text, dicts (JSON or YAML by
extension), matplotlib/plotly figures, numpy/PIL images and tables (MLflow's "split" JSON).

Each library is imported only when an object needs it (``optional.require``).
"""

from __future__ import annotations

import json
import posixpath
import re
import sys
import uuid
import warnings
from pathlib import Path
from typing import Any

from runstack.artifacts.optional import require
from runstack.errors import InvalidParameterError

YAML_EXTENSIONS = (".yml", ".yaml")
TABLE_EXTENSIONS = (".json", ".parquet")
_TABLE_FORBIDDEN = ('"', "'", ",", ":", "[", "]", "{", "}")
_PLOTLY_IMAGE_EXTENSIONS = (".png", ".jpeg", ".webp", ".svg", ".pdf")


def extension(artifact_file: str) -> str:
    return posixpath.splitext(artifact_file)[1]


def text_bytes(text: object) -> bytes:
    if not isinstance(text, str):
        raise InvalidParameterError(
            f"log_text needs a str, got {type(text).__name__}: convert it with str() first."
        )
    return text.encode("utf-8")


def dict_bytes(dictionary: Any, artifact_file: str) -> bytes:
    """YAML for .yml/.yaml (PyYAML, keys sorted, block style), else indented JSON with
    values JSON cannot hold written as ``str(value)`` (MLflow's rules)."""
    if extension(artifact_file) in YAML_EXTENSIONS:
        yaml = require("yaml", "PyYAML", "Logging a dict as YAML")
        text: str = yaml.dump(dictionary, indent=2, default_flow_style=False)
        return text.encode("utf-8")
    return json.dumps(dictionary, indent=2, default=str).encode("utf-8")


def parse_dict(data: bytes, artifact_file: str) -> Any:
    """The inverse of ``dict_bytes`` (YAML by extension, else JSON)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidParameterError(f"Artifact {artifact_file!r} is not valid UTF-8.") from None
    try:
        if extension(artifact_file) in YAML_EXTENSIONS:
            yaml = require("yaml", "PyYAML", "Loading a YAML artifact")
            return yaml.safe_load(text)
        return json.loads(text)
    except ValueError as error:  # json.JSONDecodeError and yaml.YAMLError's common ground
        raise InvalidParameterError(
            f"Artifact {artifact_file!r} is not a valid {extension(artifact_file) or 'JSON'} "
            f"document: {error}"
        ) from None
    except Exception as error:
        if type(error).__module__.startswith("yaml"):
            raise InvalidParameterError(
                f"Artifact {artifact_file!r} is not valid YAML: {error}"
            ) from None
        raise


def save_figure(
    figure: Any, path: Path, artifact_file: str, save_kwargs: dict[str, Any] | None
) -> None:
    """Save a matplotlib figure (format from the extension) or a plotly figure (HTML, or an
    image through kaleido) to ``path``. Only libraries already imported are consulted, so a
    plotly figure never needs matplotlib installed."""
    kwargs = dict(save_kwargs or {})
    if "matplotlib" in sys.modules:
        figure_module = require("matplotlib.figure", "matplotlib", "log_figure")
        if isinstance(figure, figure_module.Figure):
            figure.savefig(path, **kwargs)
            return
    if "plotly" in sys.modules:
        graph_objects = require("plotly.graph_objects", "plotly", "log_figure")
        if isinstance(figure, graph_objects.Figure):
            suffix = extension(artifact_file)
            if suffix == ".html":
                kwargs.setdefault("include_plotlyjs", "cdn")
                kwargs.setdefault("auto_open", False)
                figure.write_html(path, **kwargs)
            elif suffix in _PLOTLY_IMAGE_EXTENSIONS:
                # plotly renders images through kaleido; checked first, so that a missing
                # kaleido is a clear error naming it (plotly's own is a RuntimeError).
                require(
                    "kaleido",
                    "kaleido",
                    f"Saving a plotly figure as {artifact_file!r}",
                    "kaleido also needs Chrome: run plotly_get_chrome once; or log the figure "
                    "as .html, which needs nothing more",
                )
                figure.write_image(path, **kwargs)
            else:
                raise InvalidParameterError(
                    f"Cannot save a plotly figure as {artifact_file!r}: use .html or one of "
                    f"{', '.join(_PLOTLY_IMAGE_EXTENSIONS)}."
                )
            return
    raise InvalidParameterError(
        f"log_figure needs a matplotlib or plotly figure, got {type(figure).__module__}."
        f"{type(figure).__qualname__}."
    )


def _array_to_pil(array: Any) -> Any:
    """A numpy array as a PIL image, converted as MLflow does: 2-D, or 3-D with 1, 3 or 4
    channels; integers must be in [0, 255]; floats and booleans are taken as [0, 1] (floats
    outside are min-max rescaled with a warning) and multiplied by 255."""
    np = require("numpy", "numpy", "Logging a numpy array as an image")
    image_module = require("PIL.Image", "Pillow", "Logging a numpy array as an image")
    kinds = {"b": "bool", "i": "signed integer", "u": "unsigned integer", "f": "floating"}
    if array.dtype.kind not in kinds:
        raise InvalidParameterError(
            f"Invalid image array dtype {str(array.dtype)!r}: use one of {list(kinds.values())}."
        )
    if array.ndim not in (2, 3):
        raise InvalidParameterError(
            f"Invalid image array shape {array.shape}: it must be 2-D or 3-D."
        )
    if array.ndim == 3 and array.shape[2] not in (1, 3, 4):
        raise InvalidParameterError(
            f"Invalid image array shape {array.shape}: the channel count must be 1, 3 or 4."
        )
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    is_int = np.issubdtype(array.dtype, np.integer)
    high = 255 if is_int else 1
    if array.size and (array.min() < 0 or array.max() > high):
        if is_int:
            raise InvalidParameterError(
                f"Integer pixel values must be in [0, 255]; found {array.min()} to {array.max()}."
            )
        warnings.warn(
            f"Float pixel values must be in [0.0, 1.0]; found {array.min()} to {array.max()}. "
            "Rescaling them with min/max.",
            stacklevel=4,
        )
        array = (array - array.min()) / (array.max() - array.min())
    if not is_int:
        array = array * 255
    return image_module.fromarray(array.astype(np.uint8))


def to_pil_image(image: Any) -> Any:
    """A PIL image from a numpy array, a PIL image or an object with ``to_pil()``."""
    if type(image).__module__.startswith("numpy"):
        return _array_to_pil(image)
    if hasattr(image, "to_pil"):
        return image.to_pil()
    if "PIL" in sys.modules:
        image_module = require("PIL.Image", "Pillow", "log_image")
        if isinstance(image, image_module.Image):
            return image
    raise InvalidParameterError(
        f"log_image needs a numpy array or a PIL image, got {type(image).__module__}."
        f"{type(image).__qualname__}."
    )


_IMAGE_KEY = re.compile(r"^[a-zA-Z0-9_\-./ ]+$")
COMPRESSED_IMAGE_SIZE = 256


def stepped_image_name(key: object, step: object, timestamp: object) -> str:
    """MLflow's file name (without extension) of one step of a time-stepped image."""
    from runstack.clock import now_ms
    from runstack.validation import validate_step, validate_timestamp

    if not isinstance(key, str) or not _IMAGE_KEY.match(key):
        raise InvalidParameterError(
            f"Invalid image key {key!r}: use letters, digits, '_', '-', '.', ' ' and '/'."
        )
    checked_step = validate_step(key, step or 0)
    stamp = now_ms() if not timestamp else validate_timestamp(timestamp)
    name = key.replace("/", "~")
    return f"images/{name}+step+{checked_step}+timestamp+{stamp}+{uuid.uuid4()}"


def compress_image(image: Any) -> Any:
    """The image scaled to fit a 256-pixel square, aspect ratio kept (MLflow's preview)."""
    width, height = image.size
    if width > height:
        size = (COMPRESSED_IMAGE_SIZE, int(height * COMPRESSED_IMAGE_SIZE / width))
    else:
        size = (int(width * COMPRESSED_IMAGE_SIZE / height), COMPRESSED_IMAGE_SIZE)
    return image.resize(size)


def check_table_file(artifact_file: str) -> None:
    for character in _TABLE_FORBIDDEN:
        if character in artifact_file:
            raise InvalidParameterError(
                f"Invalid table file {artifact_file!r}: it may not contain {character!r}."
            )
    if extension(artifact_file) not in TABLE_EXTENSIONS:
        raise InvalidParameterError(
            f"Invalid table file {artifact_file!r}: the name must end in .json or .parquet."
        )


def table_frame(data: Any) -> Any:
    """``data`` (a dict or a DataFrame) as a DataFrame; a dict of scalars is one row."""
    pd = require("pandas", "pandas", "log_table")
    if isinstance(data, pd.DataFrame):
        return data
    if not isinstance(data, dict):
        raise InvalidParameterError(
            f"log_table needs a dict or a pandas.DataFrame, got {type(data).__name__}."
        )
    try:
        return pd.DataFrame(data)
    except ValueError:  # all scalars: one row
        return pd.DataFrame([data])


def write_table(frame: Any, path: Path, artifact_file: str) -> None:
    if extension(artifact_file) == ".json":
        frame.to_json(path, orient="split", index=False, date_format="iso")
    else:
        frame.to_parquet(path, index=False)


def read_table(path: Path, artifact_file: str) -> Any:
    pd = require("pandas", "pandas", "log_table")
    if extension(artifact_file) == ".json":
        return pd.read_json(path, orient="split")
    return pd.read_parquet(path)
