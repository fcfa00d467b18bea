"""Environment variables: one module defines them all (``runstack.settings``), the docs' tables
list exactly those, and every variable follows one rule: unset or blank means the default, a
value that breaks its rule is an error naming the variable, the value and the rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runstack import settings
from runstack.errors import InvalidParameterError, SettingError

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "runstack"
# A table row whose first cell names runstack's or MLflow's variables (``A`` + ``B`` too).
_ROW = re.compile(r"^\|([^|]*)\|", re.MULTILINE)
_NAME = re.compile(r"`((?:MLFLOW|RUNSTACK)_[A-Z0-9_]+)`")

# A value outside the rule, for each variable that has a rule.
BAD_VALUES = {
    settings.ASYNC_LOGGING: "perhaps",
    settings.HEARTBEAT_INTERVAL: "0",
    settings.HEARTBEAT_TIMEOUT: "soon",
    settings.HTTP_MAX_RETRIES: "-1",
    settings.HTTP_REQUEST_TIMEOUT: "nan",
    settings.TRACKING_INSECURE_TLS: "maybe",
    settings.REST_API: "graphql",
    settings.SERVER_MAX_BODY_BYTES: "0",
    settings.SERVER_THREADS: "1.5",
    settings.SERVER_REAP_INTERVAL: "-10",
    settings.SERVER_READ_ONLY: "sometimes",
    settings.SERVER_X_FRAME_OPTIONS: "ALLOW-FROM x",
    settings.SERVER_HEADER_TIMEOUT: "0",
    settings.SERVER_BODY_TIMEOUT: "never",
    settings.SEARCH_TIMEOUT: "-1",
    settings.SERVER_SERVE_ARTIFACTS: "perhaps",
    settings.SERVER_MAX_ARTIFACT_BYTES: "0",
    settings.S3_IGNORE_TLS: "maybe",
    settings.S3_ADDRESSING_STYLE: "diagonal",
    settings.SERVER_AUTH: "with a password",
    settings.SERVER_AUTH_DEFAULT_PERMISSION: "WRITE",
}


def _table_names(doc: str) -> set[str]:
    text = (ROOT / doc).read_text(encoding="utf-8")
    return {name for cell in _ROW.findall(text) for name in _NAME.findall(cell)}


@pytest.mark.parametrize("doc", [settings.README, settings.SERVER_DOC])
def test_the_docs_tables_list_exactly_the_variables_defined(doc: str) -> None:
    defined = {s.name for s in settings.all_settings() if doc in s.docs}
    listed = _table_names(doc)
    assert not defined - listed, f"{doc} has no table row for {sorted(defined - listed)}"
    assert not listed - defined, f"{doc} lists variables runstack.settings does not define: " + (
        f"{sorted(listed - defined)}"
    )


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if path.name != "settings.py"
        and re.search(r"os\.environ|os\.getenv|getenv\(", path.read_text(encoding="utf-8"))
    ]
    assert readers == [], f"read environment variables through runstack.settings: {readers}"


def test_every_variable_is_defined_once() -> None:
    names = [s.name for s in settings.all_settings()]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"(MLFLOW|RUNSTACK)_[A-Z0-9_]+", n) for n in names)


@pytest.mark.parametrize("setting", list(BAD_VALUES), ids=lambda s: s.name)
def test_a_bad_value_is_an_error_naming_variable_value_and_rule(
    setting: settings.Setting[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(setting.name, BAD_VALUES[setting])
    with pytest.raises(SettingError) as raised:
        setting.read()
    message = str(raised.value)
    assert setting.name in message and repr(BAD_VALUES[setting]) in message
    assert setting.rule in message
    assert isinstance(raised.value, InvalidParameterError)
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize("setting", settings.all_settings(), ids=lambda s: s.name)
@pytest.mark.parametrize("raw", [None, "", "   "])
def test_unset_or_blank_means_the_default(
    setting: settings.Setting[object], raw: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if raw is None:
        monkeypatch.delenv(setting.name, raising=False)
    else:
        monkeypatch.setenv(setting.name, raw)
    assert setting.read() == setting.default


@pytest.mark.parametrize(
    ("setting", "raw", "value"),
    [
        (settings.ASYNC_LOGGING, "TRUE", True),
        (settings.ASYNC_LOGGING, "yes", True),
        (settings.ASYNC_LOGGING, "0", False),
        (settings.TRACKING_INSECURE_TLS, "true", True),
        (settings.TRACKING_INSECURE_TLS, "false", False),
        (settings.HEARTBEAT_INTERVAL, " 2.5 ", 2.5),
        (settings.HTTP_MAX_RETRIES, "0", 0),
        (settings.SERVER_THREADS, "4", 4),
        (settings.REST_API, "mlflow", "mlflow"),
        (settings.EXPERIMENT_NAME, "my experiment", "my experiment"),
    ],
)
def test_good_values_are_parsed(
    setting: settings.Setting[object], raw: str, value: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(setting.name, raw)
    assert setting.read() == value


def test_export_and_unset_change_what_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(settings.RUN_ID.name, raising=False)
    settings.RUN_ID.export("a" * 32)
    try:
        assert settings.RUN_ID.read() == "a" * 32
    finally:
        settings.RUN_ID.unset()
    assert settings.RUN_ID.read() is None


def test_a_bad_server_setting_stops_the_app_from_being_created(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Before: a bad RUNSTACK_SERVER_REAP_INTERVAL was silently replaced by the default.
    pytest.importorskip("starlette")
    from runstack.server.app import create_app

    monkeypatch.setenv(settings.SERVER_REAP_INTERVAL.name, "soon")
    with pytest.raises(SettingError, match="RUNSTACK_SERVER_REAP_INTERVAL='soon'"):
        create_app(f"sqlite:///{tmp_path}/runstack.db")
