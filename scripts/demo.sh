#!/usr/bin/env bash
# The main job: set up, then run the example training sweep into ./runstack.db and print
# what was stored.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python examples/train.py
