#!/usr/bin/env bash
# Run the test suite: lint, types, then pytest (SQLite always; PostgreSQL too when SIMKYC_TEST_PG_URL
# points at a reachable server, as in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/pytest ] || scripts/install.sh --dev
.venv/bin/ruff check src tests benchmarks
.venv/bin/mypy
exec .venv/bin/pytest -n 2 --dist loadfile "$@"
