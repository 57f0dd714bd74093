#!/usr/bin/env bash
# Builds agni-gateway and runs the whole test suite with ctest, installing what
# it needs first (Debian packages, and Prism from npm for the contract test).
#
# Stages, in order; the first failure stops the run:
#   1. format    every C++ file follows .clang-format (tests/check_format.sh)
#   2. suite     RelWithDebInfo build of every target with -Werror, then ctest
#   3. release   Release build of what a user builds and the .deb ships (the
#                gateway, not the tests), with -Werror
#      package   the .deb made from that build, installed, upgraded, removed
#                and purged on this machine (tests/e2e/package_test.sh; on its
#                own, as it changes the system, which it leaves as it found it)
#   4. hardening the suite under ASan+UBSan and TSan, and libFuzzer runs
#                (tests/hardening.sh)
# Builds go through ccache, so a second run (or CI after a local run) only
# compiles what changed.
#
# Usage: bash tests/run.sh        (any cwd; root on a fresh Debian 12)
#   AGNI_BUILD_DIR=DIR      build directory (default: build, relative to the repo)
#   AGNI_SKIP_HARDENING=1   stages 1 and 2 only, for a quick local run
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${AGNI_BUILD_DIR:-$REPO/build}"
RELEASE_BUILD="${AGNI_RELEASE_BUILD_DIR:-$REPO/build-release}"

bash "$REPO/deploy/install-deps.sh"
bash "$REPO/deploy/mock/install.sh"
bash "$REPO/tests/idp/install.sh"  # the OpenID provider of identity_tests

# One cache for every build type and every clone of the repository.
export CCACHE_BASEDIR="$REPO" CCACHE_NOHASHDIR=1
export AGNI_CMAKE_LAUNCHER="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
started=$SECONDS

echo "run: [format]"
bash "$REPO/tests/check_format.sh"

echo "run: [suite] configure and build ($BUILD)"
cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DAGNI_WERROR=ON "$AGNI_CMAKE_LAUNCHER" >/dev/null
cmake --build "$BUILD"
(
  cd "$BUILD"
  ctest --output-on-failure --timeout 300 -j2
)
echo "run: [suite] took $((SECONDS - started))s"

if [[ "${AGNI_SKIP_HARDENING:-0}" == 1 ]]; then
  echo "run: AGNI_SKIP_HARDENING=1: release build and hardening skipped"
  exit 0
fi

stage_start=$SECONDS
echo "run: [release] configure and build the gateway ($RELEASE_BUILD)"
# The tests were built with -Werror in the suite and by clang in hardening;
# here only what is installed, so cpack's install must not build them either.
cmake -S "$REPO" -B "$RELEASE_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DAGNI_WERROR=ON -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON \
  "$AGNI_CMAKE_LAUNCHER" >/dev/null
cmake --build "$RELEASE_BUILD" --target agni-gateway
echo "run: [release] took $((SECONDS - stage_start))s"

stage_start=$SECONDS
echo "run: [package] the .deb from the release build, installed and purged"
bash "$REPO/tests/e2e/package_test.sh" "$RELEASE_BUILD"
echo "run: [package] took $((SECONDS - stage_start))s"

bash "$REPO/tests/hardening.sh"
echo "run: all stages passed in $((SECONDS - started))s"
