#!/usr/bin/env bash
# The whole gate: servers up, the suite (requiring every server), mypy --strict, ruff; servers down.
set -euo pipefail
cd "$(dirname "$0")/.."
trap 'bash scripts/services.sh down >/dev/null 2>&1 || true' EXIT
bash scripts/services.sh up
export LEXIGRAM_NOSQL_REQUIRE_SERVICES=1
status=0
# Parallel workers: every test has its own namespace, table prefix or emulator project; tests
# are handed out a few at a time, the slow ones first, so the workers finish together. The
# timing-sensitive tests (marked serial: outages, deadlines) run alone afterwards.
.venv/bin/python -m pytest tests -q -p no:cacheprovider -n "${LEXIGRAM_NOSQL_TEST_WORKERS:-3}" \
  --dist load --maxschedchunk 4 -m "not serial" "$@" || status=$?
.venv/bin/python -m pytest tests -q -p no:cacheprovider -m serial "$@" || status=$?
.venv/bin/mypy || status=$?
.venv/bin/ruff check lexigram_nosql tests benchmarks examples || status=$?
.venv/bin/ruff format --check lexigram_nosql || status=$?
exit $status
