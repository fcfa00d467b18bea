#!/usr/bin/env bash
# Set up, then run the static checks and the whole test suite (SQLite always; PostgreSQL at
# $RUNSTACK_TEST_POSTGRES_URI, default postgresql://postgres@127.0.0.1:5432/postgres, and
# skipped with the reason printed when no server answers there).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check src tests benchmarks examples
echo "== mypy"
.venv/bin/mypy src
echo "== pytest"
exec .venv/bin/python -m pytest "$@"
