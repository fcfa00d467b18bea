#!/usr/bin/env bash
# The main job: set up, then run the example training sweep into ./runstack.db and print
# what was stored, then say how to browse it in the web UI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python examples/train.py
echo
echo "Browse these runs in a web browser: .venv/bin/runstack ui --open"
