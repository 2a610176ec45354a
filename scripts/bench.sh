#!/usr/bin/env bash
# make bench: every benchmark against every backend server, one table, benchmarks/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
trap 'bash scripts/services.sh down >/dev/null 2>&1 || true' EXIT
bash scripts/services.sh up
.venv/bin/python -m pip install --quiet -e '.[bench]'   # MontyDB, the SQLite store's baseline
.venv/bin/python benchmarks/run_all.py "$@"
