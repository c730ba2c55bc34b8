#!/usr/bin/env bash
# Run the test suite: lint, types, then pytest (SQLite always; PostgreSQL too when SIMKYC_TEST_PG_URL
# points at a reachable server, as in CI).
# The tests' tools are checked first; when any is missing, `scripts/install.sh --dev` installs them
# (Playwright and the face_recognition baseline from PyPI; as root Debian's chromium, ffmpeg and CJK
# fonts). Still missing afterwards: the run stops and names them, rather than letting tests skip.
# SIMKYC_ALLOW_MISSING_TOOLS=1 runs anyway (those tests then skip with their reason).
set -euo pipefail
cd "$(dirname "$0")/.."

missing_tools() {
  local py=.venv/bin/python
  [ -x .venv/bin/pytest ] || echo "pytest (pip: scripts/install.sh)"
  "$py" -c "import playwright.sync_api" 2>/dev/null || echo "playwright (pip: scripts/install.sh)"
  "$py" -c "import face_recognition" 2>/dev/null || echo "face_recognition (pip: scripts/install.sh --dev)"
  [ -x "${SIMKYC_CHROMIUM:-/usr/bin/chromium}" ] || echo "chromium (apt-get install chromium)"
  command -v ffmpeg >/dev/null || echo "ffmpeg (apt-get install ffmpeg)"
  "$py" -c "from simkyc.eval.cards import find_cjk_font; find_cjk_font()" 2>/dev/null \
    || echo "Noto CJK fonts (apt-get install fonts-noto-cjk)"
}

if [ ! -x .venv/bin/python ] || [ -n "$(missing_tools)" ]; then
  scripts/install.sh --dev
fi
missing=$(missing_tools)
if [ -n "$missing" ]; then
  if [ "${SIMKYC_ALLOW_MISSING_TOOLS:-0}" != 1 ]; then
    echo "scripts/test.sh: these test tools are missing (run as root so scripts/install.sh --dev can" \
      "install them, or install them yourself; SIMKYC_ALLOW_MISSING_TOOLS=1 lets their tests skip):" >&2
    echo "$missing" | sed 's/^/  - /' >&2
    exit 1
  fi
else
  export SIMKYC_REQUIRE_TOOLS=1  # tests/conftest.py: a skip for a missing tool is then a failure
fi
.venv/bin/ruff check src tests benchmarks
.venv/bin/mypy
exec .venv/bin/pytest -n 2 --dist loadfile "$@"
