#!/usr/bin/env bash
# Set up, then run the static checks (ruff, mypy, the import-linter layer contracts) and the
# whole test suite (SQLite always; PostgreSQL at $RUNSTACK_TEST_POSTGRES_URI, default
# postgresql://postgres@127.0.0.1:5432/postgres, and skipped with the reason printed when no
# server answers there). Arguments go to pytest: `-m "not slow"` is the fast subset.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check src tests benchmarks examples scripts
echo "== mypy"
.venv/bin/mypy src
echo "== lint-imports (the layer contracts in pyproject.toml)"
.venv/bin/lint-imports --no-cache
echo "== pytest"
exec .venv/bin/python -m pytest "$@"
