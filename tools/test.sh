#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test
# suite on every OpenCL device of the matrix (PoCL pthread, PoCL basic, Mesa
# llvmpipe, oclgrind). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-debian.sh
# Host-side extras: fuzz seed-corpus replays, kernel compile checks.
meson test -C build --suite extra --print-errorlogs
# Every suite on every device of the matrix.
exec build/tests/clsp-matrix --require-all "$@"
