#!/usr/bin/env bash
# Builds agni-gateway and runs the whole test suite with ctest, installing what
# it needs first (Debian packages, and Prism from npm for the contract test).
#
# Usage: bash tests/run.sh        (any cwd; root on a fresh Debian 12)
#   AGNI_BUILD_DIR=DIR   build directory (default: build, relative to the repo)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${AGNI_BUILD_DIR:-$REPO/build}"

bash "$REPO/deploy/install-deps.sh"
bash "$REPO/deploy/mock/install.sh"

cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$BUILD"

cd "$BUILD"
ctest --output-on-failure --timeout 300 -j2

# Hardening: the suite under ASan+UBSan, the concurrency tests under TSan, and
# short libFuzzer runs (tests/hardening.sh). AGNI_SKIP_HARDENING=1 skips it
# for a quick local iteration; CI always runs it.
if [[ "${AGNI_SKIP_HARDENING:-0}" != 1 ]]; then
  bash "$REPO/tests/hardening.sh"
fi
