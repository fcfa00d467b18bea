"""Exits with the code given (with sys.exit, or `raise SystemExit` when told); its run is
left open for the exit hooks to end."""

import sys

import mlflow

mlflow.start_run()
mlflow.log_metric("m", 1.0)
print("ARGV", sys.argv[1:], __name__)
if sys.argv[2:] == ["raise"]:
    raise SystemExit(int(sys.argv[1]))
sys.exit(int(sys.argv[1]))
