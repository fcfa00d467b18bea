"""docs/architecture.md names real files: every module or folder path it cites exists.

Modules move (issue 9 moved a dozen); this fails when the map is left pointing at old ones.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "runstack"
DOC = ROOT / "docs" / "architecture.md"

# `fluent.py`, `store/sql/query/`, `server/handlers_*.py`, `tests/test_imports.py`; not URL
# paths such as `/api/`.
_PATH = re.compile(r"`([\w*.][\w*./]*(?:\.py|/))`")


def cited_paths() -> list[str]:
    return sorted(set(_PATH.findall(DOC.read_text(encoding="utf-8"))))


def _exists(cited: str) -> bool:
    base = ROOT if cited.startswith(("src/", "tests/", "scripts/", "benchmarks/")) else PACKAGE
    if "*" in cited:
        return any(base.glob(cited))
    return (base / cited).exists()


def test_the_doc_cites_paths() -> None:
    assert len(cited_paths()) > 20  # the pattern still finds what the doc cites


def test_every_cited_path_exists() -> None:
    missing = [p for p in cited_paths() if not _exists(p)]
    assert not missing, f"docs/architecture.md cites paths that do not exist: {missing}"
