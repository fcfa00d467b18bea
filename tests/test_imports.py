"""``import runstack`` stays light: no web, CLI, migration, dataframe or database library is
imported with it, and it takes well under 300 ms in a fresh interpreter.

The time is a guard against a gross regression, not a benchmark (``benchmarks/bench_core.py``
measures it: a median of fresh processes against MLflow's). On an idle machine the import
takes tens of milliseconds; the machine running the tests may be busy, so the bound is generous
and the test passes as soon as one of up to five fresh processes is under it. The layer
contracts (``lint-imports``) check the same rule statically."""

from __future__ import annotations

import json

from conftest import run_python

HEAVY_MODULES = (
    "starlette",
    "fastapi",
    "uvicorn",
    "click",
    "rich",
    "alembic",
    "pandas",
    "sqlalchemy",
    "httpx",
)
IMPORT_BUDGET_S = 0.300
IMPORT_ATTEMPTS = 5

_MEASURE = """
import json, sys, time
start = time.perf_counter()
import runstack
elapsed = time.perf_counter() - start
heavy = sorted(
    name for name in sys.modules
    if name.split(".")[0] in {heavy!r}
)
print(json.dumps({{"elapsed": elapsed, "heavy": heavy, "version": runstack.__version__}}))
"""


def _import_in_fresh_process() -> dict[str, object]:
    done = run_python(_MEASURE.format(heavy=set(HEAVY_MODULES)), timeout=60)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_import_pulls_in_no_heavy_library() -> None:
    result = _import_in_fresh_process()
    assert result["version"]
    assert result["heavy"] == [], f"`import runstack` imported {result['heavy']}"


def test_import_is_fast() -> None:
    timings: list[float] = []
    for _ in range(IMPORT_ATTEMPTS):
        timings.append(float(_import_in_fresh_process()["elapsed"]))  # type: ignore[arg-type]
        if timings[-1] < IMPORT_BUDGET_S:
            break
    assert min(timings) < IMPORT_BUDGET_S, f"import runstack took {timings} s"
