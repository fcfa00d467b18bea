"""Every environment variable runstack reads, with its type, default and rule, in one place.

A variable is read when it is needed (not at import), so a value set by the program itself
(``set_tracking_uri``, ``set_experiment``, a test's ``monkeypatch``) is seen at once. One rule
for every variable: unset or blank means the default; a value that breaks the variable's rule
raises ``SettingError`` (an ``InvalidParameterError``) naming the variable, the value and the
rule; it is never silently replaced by the default.

Each variable says where it is documented (``docs``): the README's table lists the ones a
program using runstack sets, docs/server.md the REST client's and the server's;
``tests/test_settings.py`` checks that those tables list exactly these variables.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

from runstack.errors import SettingError

T = TypeVar("T")

README = "README.md"
SERVER_DOC = "docs/server.md"


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One environment variable: ``parse`` turns its text into a value or raises ValueError;
    ``rule`` says in words what ``parse`` accepts, for the error message."""

    name: str
    default: T
    parse: Callable[[str], T]
    rule: str
    docs: tuple[str, ...]

    def read(self) -> T:
        """The variable's value now: the default when unset or blank."""
        raw = os.environ.get(self.name)
        if raw is None or not raw.strip():
            return self.default
        try:
            return self.parse(raw)
        except ValueError:
            raise SettingError(self.name, raw, self.rule) from None

    def export(self, value: str) -> None:
        """Set the variable, for this process's later reads and its child processes."""
        os.environ[self.name] = value

    def unset(self) -> None:
        os.environ.pop(self.name, None)


# Parsers: each raises ValueError on a value outside its rule. ----------------------------------


def _text(raw: str) -> str | None:
    return raw


def _positive_seconds(raw: str) -> float:
    value = float(raw)
    if not value > 0:  # NaN too
        raise ValueError(raw)
    return value


def _count(minimum: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        text = raw.strip()
        if not text.isdigit() or int(text) < minimum:
            raise ValueError(raw)
        return int(text)

    return parse


_TRUE = frozenset({"1", "true", "yes"})
_FALSE = frozenset({"0", "false", "no"})


def _flag(raw: str) -> bool:
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(raw)


def _choice(*allowed: str) -> Callable[[str], str | None]:
    def parse(raw: str) -> str | None:
        text = raw.strip()
        if text not in allowed:
            raise ValueError(raw)
        return text

    return parse


_FLAG_RULE = "true or false (also 1/0, yes/no)"
_SECONDS_RULE = "a positive number of seconds"


def _optional_text(name: str, docs: tuple[str, ...]) -> Setting[str | None]:
    return Setting(name, None, _text, "any text", docs)


# Where runs go ---------------------------------------------------------------------------------

TRACKING_URI = _optional_text("MLFLOW_TRACKING_URI", (README,))
EXPERIMENT_NAME = _optional_text("MLFLOW_EXPERIMENT_NAME", (README,))
EXPERIMENT_ID = _optional_text("MLFLOW_EXPERIMENT_ID", (README,))
RUN_ID = _optional_text("MLFLOW_RUN_ID", (README,))
TRACKING_USERNAME = _optional_text("MLFLOW_TRACKING_USERNAME", (README, SERVER_DOC))
ARTIFACT_ROOT = _optional_text("RUNSTACK_ARTIFACT_ROOT", (README,))

# How runs are logged and kept alive ------------------------------------------------------------

ASYNC_LOGGING: Setting[bool] = Setting(
    "MLFLOW_ENABLE_ASYNC_LOGGING", False, _flag, _FLAG_RULE, (README,)
)
HEARTBEAT_INTERVAL: Setting[float] = Setting(
    "RUNSTACK_HEARTBEAT_INTERVAL",
    10.0,
    _positive_seconds,
    _SECONDS_RULE,
    (README,),
)
HEARTBEAT_TIMEOUT: Setting[float] = Setting(
    "RUNSTACK_HEARTBEAT_TIMEOUT", 60.0, _positive_seconds, _SECONDS_RULE, (README,)
)

# The REST store (a tracking server as the store) -----------------------------------------------

HTTP_MAX_RETRIES: Setting[int] = Setting(
    "RUNSTACK_HTTP_MAX_RETRIES", 5, _count(0), "a non-negative integer", (SERVER_DOC,)
)
HTTP_REQUEST_TIMEOUT: Setting[float] = Setting(
    "MLFLOW_HTTP_REQUEST_TIMEOUT",
    120.0,
    _positive_seconds,
    _SECONDS_RULE,
    (SERVER_DOC,),
)
TRACKING_TOKEN = _optional_text("MLFLOW_TRACKING_TOKEN", (SERVER_DOC,))
TRACKING_PASSWORD = _optional_text("MLFLOW_TRACKING_PASSWORD", (SERVER_DOC,))
TRACKING_INSECURE_TLS: Setting[bool] = Setting(
    "MLFLOW_TRACKING_INSECURE_TLS", False, _flag, _FLAG_RULE, (SERVER_DOC,)
)
TRACKING_SERVER_CERT_PATH = _optional_text("MLFLOW_TRACKING_SERVER_CERT_PATH", (SERVER_DOC,))
REST_API: Setting[str | None] = Setting(
    "RUNSTACK_REST_API",
    None,
    _choice("runstack", "mlflow"),
    "'runstack' or 'mlflow'",
    (SERVER_DOC,),
)

# The server ------------------------------------------------------------------------------------

# Set by `runstack server` for the worker processes it starts; not for people to set.
SERVER_BACKEND_STORE_URI = _optional_text("RUNSTACK_SERVER_BACKEND_STORE_URI", ())
SERVER_MAX_BODY_BYTES: Setting[int] = Setting(
    "RUNSTACK_SERVER_MAX_BODY_BYTES", 1_000_000, _count(1), "a positive integer", (SERVER_DOC,)
)
# Each thread may hold a database connection: the default stays within the SQL store's pool.
SERVER_THREADS: Setting[int] = Setting(
    "RUNSTACK_SERVER_THREADS", 12, _count(1), "a positive integer", (SERVER_DOC,)
)
SERVER_REAP_INTERVAL: Setting[float] = Setting(
    "RUNSTACK_SERVER_REAP_INTERVAL",
    10.0,
    _positive_seconds,
    _SECONDS_RULE,
    (SERVER_DOC,),
)

# Every change refused (403): `runstack server --read-only` sets it for its worker processes.
SERVER_READ_ONLY: Setting[bool] = Setting(
    "RUNSTACK_SERVER_READ_ONLY", False, _flag, _FLAG_RULE, (SERVER_DOC,)
)

# The artifact proxy: `runstack server --artifacts-destination / --no-serve-artifacts /
# --max-artifact-bytes` set these for its worker processes.
SERVER_ARTIFACTS_DESTINATION = _optional_text(
    "RUNSTACK_SERVER_ARTIFACTS_DESTINATION", (SERVER_DOC,)
)
SERVER_SERVE_ARTIFACTS: Setting[bool] = Setting(
    "RUNSTACK_SERVER_SERVE_ARTIFACTS", True, _flag, _FLAG_RULE, (SERVER_DOC,)
)
SERVER_MAX_ARTIFACT_BYTES: Setting[int] = Setting(
    "RUNSTACK_SERVER_MAX_ARTIFACT_BYTES",
    64 * 1024**3,
    _count(1),
    "a positive integer",
    (SERVER_DOC,),
)

# S3 artifact locations (MLflow's names; boto3 reads the AWS_* variables itself) --------------

ARTIFACTS_DOC = "docs/artifacts.md"
S3_ENDPOINT_URL = _optional_text("MLFLOW_S3_ENDPOINT_URL", (ARTIFACTS_DOC,))
S3_IGNORE_TLS: Setting[bool] = Setting(
    "MLFLOW_S3_IGNORE_TLS", False, _flag, _FLAG_RULE, (ARTIFACTS_DOC,)
)
S3_ADDRESSING_STYLE: Setting[str | None] = Setting(
    "MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE",
    None,
    _choice("auto", "path", "virtual"),
    "'auto', 'path' or 'virtual'",
    (ARTIFACTS_DOC,),
)


# Request guards and limits (docs/security.md); `runstack server`'s flags set them for its
# worker processes.
SERVER_BIND_HOST: Setting[str | None] = Setting(  # set by `runstack server`, not by people
    "RUNSTACK_SERVER_BIND_HOST", None, _text, "an address", ()
)
SERVER_ALLOWED_HOSTS = _optional_text("RUNSTACK_SERVER_ALLOWED_HOSTS", (SERVER_DOC,))
SERVER_CORS_ALLOWED_ORIGINS = _optional_text("RUNSTACK_SERVER_CORS_ALLOWED_ORIGINS", (SERVER_DOC,))
SERVER_X_FRAME_OPTIONS: Setting[str | None] = Setting(
    "RUNSTACK_SERVER_X_FRAME_OPTIONS",
    "SAMEORIGIN",
    _choice("SAMEORIGIN", "DENY", "NONE"),
    "SAMEORIGIN, DENY or NONE",
    (SERVER_DOC,),
)
SERVER_HEADER_TIMEOUT: Setting[float] = Setting(
    "RUNSTACK_SERVER_HEADER_TIMEOUT", 10.0, _positive_seconds, _SECONDS_RULE, (SERVER_DOC,)
)
SERVER_BODY_TIMEOUT: Setting[float] = Setting(
    "RUNSTACK_SERVER_BODY_TIMEOUT", 30.0, _positive_seconds, _SECONDS_RULE, (SERVER_DOC,)
)
# Authentication (docs/security.md); `runstack server --auth` sets them for its workers.
SERVER_AUTH: Setting[bool] = Setting(
    "RUNSTACK_SERVER_AUTH", False, _flag, _FLAG_RULE, (SERVER_DOC,)
)
SERVER_AUTH_DEFAULT_PERMISSION: Setting[str | None] = Setting(
    "RUNSTACK_SERVER_AUTH_DEFAULT_PERMISSION",
    "READ",
    _choice("READ", "EDIT", "MANAGE", "NO_PERMISSIONS"),
    "READ, EDIT, MANAGE or NO_PERMISSIONS",
    (SERVER_DOC,),
)
# Each statement of a search, on any SQL store (Python API or server).
SEARCH_TIMEOUT: Setting[float] = Setting(
    "RUNSTACK_SEARCH_TIMEOUT", 30.0, _positive_seconds, _SECONDS_RULE, (SERVER_DOC,)
)


# Python's own variables --------------------------------------------------------------------


@contextmanager
def python_path_first(folder: str) -> Iterator[None]:
    """``folder`` first on ``PYTHONPATH`` (which child Pythons read at start-up) while the
    block runs; the variable is put back as it was afterwards. Not a runstack setting, but
    this module is where the environment is read and written."""
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = folder if not before else folder + os.pathsep + before
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


def all_settings() -> list[Setting[object]]:
    """Every variable defined here, in definition order."""
    return [value for value in globals().values() if isinstance(value, Setting)]
