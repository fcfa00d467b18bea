"""The documentation names every public function, class and client method that exists."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import runstack

ROOT = Path(__file__).resolve().parent.parent
API_DOC = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")


def test_every_public_name_has_a_section() -> None:
    headings = set(re.findall(r"^### (\S+)$", API_DOC, flags=re.MULTILINE))
    aliases = {"MlflowClient", "MlflowException"}  # documented in bold beside their target
    missing = sorted(set(runstack.__all__) - headings - aliases)
    assert not missing, f"docs/api.md has no section for {missing}"
    for alias in aliases:
        assert f"**{alias}**" in API_DOC


def test_every_client_method_is_documented() -> None:
    methods = [
        name
        for name, _ in inspect.getmembers(runstack.TrackingClient, inspect.isfunction)
        if not name.startswith("_")
    ]
    missing = [name for name in methods if f"`{name}(" not in API_DOC]
    assert not missing, f"docs/api.md does not document TrackingClient.{missing}"


def test_documented_sections_exist_in_the_package() -> None:
    headings = re.findall(r"^### (\S+)$", API_DOC, flags=re.MULTILINE)
    unknown = [name for name in headings if not hasattr(runstack, name)]
    assert not unknown, f"docs/api.md documents names runstack does not have: {unknown}"


def test_readme_commands_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for script in re.findall(r"^bash (scripts/\S+)", readme, flags=re.MULTILINE):
        assert (ROOT / script).is_file(), f"README runs {script}, which does not exist"
    assert "bash scripts/demo.sh" in readme and "bash scripts/test.sh" in readme


def test_changelog_has_unreleased_section() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## Unreleased" in changelog
