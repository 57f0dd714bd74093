#!/usr/bin/env bash
# The hardening stages of the test command (tests/run.sh calls this):
#  1. the whole ctest suite built with clang + AddressSanitizer + UBSan, plus
#     the libFuzzer targets (tests/fuzz/) replaying their seeds and
#     regressions and fuzzing for AGNI_FUZZ_SECONDS each (default 20);
#  2. the concurrency tests (audit writer, single flight, the servers' worker
#     threads, the pipeline's shared snapshot) built with ThreadSanitizer.
# Any sanitizer report fails the run: reports are written to files (log_path)
# and the run fails if any file exists afterwards, so a report from a child
# process (the gateway binary under tests/hostile or tests/e2e) counts too,
# even when its test happened to pass.
#
# Usage: bash tests/hardening.sh    (after deploy/install-deps.sh)
#   AGNI_ASAN_BUILD_DIR / AGNI_TSAN_BUILD_DIR   build dirs (default build-asan, build-tsan)
#   AGNI_FUZZ_SECONDS=N                         fuzzing time per target
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ASAN_BUILD="${AGNI_ASAN_BUILD_DIR:-$REPO/build-asan}"
TSAN_BUILD="${AGNI_TSAN_BUILD_DIR:-$REPO/build-tsan}"
REPORTS="$(mktemp -d /tmp/agni-sanitizer-reports.XXXXXX)"
export CC=clang-14 CXX=clang++-14

# Both sanitizer builds compile the product's code with -O1 and line tables
# (clang's -g1), as the sanitizers' documentation suggests; their reports
# still name function, file and line, inlined frames included. The tests' own
# code is -O0 -g1 in every RelWithDebInfo build (CMakeLists.txt). Measured
# from an empty ccache: the ASan+UBSan stage 875 s -> 709-722 s, TSan
# 364 s -> 292-304 s. The suite's own build keeps RelWithDebInfo's -O2 -g.
SANITIZER_FLAGS=(-DCMAKE_BUILD_TYPE=RelWithDebInfo
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG")

# Under TSan: every unit and integration test (the GoogleTest cases; not the
# e2e scripts or the hostile/fuzz targets, which tsan does not build). That is
# a superset of the concurrency tests (audit writer and group commit, single
# flight, the servers' worker threads, the shared access snapshot), and cheap
# (about 15 s); approvals and reload tests join automatically when they land.
TSAN_TESTS='^[A-Za-z]+Test\.'

check_reports() {
  local stage="$1"
  if compgen -G "$REPORTS/*" >/dev/null; then
    echo "hardening: FAIL: $stage produced sanitizer reports:" >&2
    for f in "$REPORTS"/*; do echo "---- $f" >&2; cat "$f" >&2; done
    exit 1
  fi
  echo "hardening: $stage: no sanitizer reports"
}

stage_start=$SECONDS
echo "hardening: [asan+ubsan] configure and build ($ASAN_BUILD)"
cmake -S "$REPO" -B "$ASAN_BUILD" -G Ninja "${SANITIZER_FLAGS[@]}" \
  -DAGNI_WERROR=ON ${AGNI_CMAKE_LAUNCHER:-} \
  -DAGNI_SANITIZE=address,undefined -DAGNI_FUZZ=ON >/dev/null
cmake --build "$ASAN_BUILD"
echo "hardening: [asan+ubsan] ctest (whole suite + fuzz targets)"
(
  cd "$ASAN_BUILD"
  export ASAN_OPTIONS="log_path=$REPORTS/asan:detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1"
  export UBSAN_OPTIONS="log_path=$REPORTS/ubsan:print_stacktrace=1:halt_on_error=1"
  export LSAN_OPTIONS="suppressions=$REPO/tests/sanitizers/lsan.supp:print_suppressions=0"
  ctest --output-on-failure --timeout 600 -j2
  # The fuzzing figures of this run (executions per target).
  grep -hE '^fuzz_[a-z_]+ (stat::(number_of_executed_units|average_exec_per_sec)|final:)' \
    Testing/Temporary/LastTest.log || true
)
check_reports "asan+ubsan"
echo "hardening: [asan+ubsan] took $((SECONDS - stage_start))s"

stage_start=$SECONDS
echo "hardening: [tsan] configure and build ($TSAN_BUILD)"
cmake -S "$REPO" -B "$TSAN_BUILD" -G Ninja "${SANITIZER_FLAGS[@]}" \
  -DAGNI_WERROR=ON ${AGNI_CMAKE_LAUNCHER:-} -DAGNI_SANITIZE=thread >/dev/null
cmake --build "$TSAN_BUILD" --target unit_tests integration_tests
echo "hardening: [tsan] ctest -R '$TSAN_TESTS'"
(
  cd "$TSAN_BUILD"
  export TSAN_OPTIONS="log_path=$REPORTS/tsan:halt_on_error=1:second_deadlock_stack=1:suppressions=$REPO/tests/sanitizers/tsan.supp"
  ctest --output-on-failure --timeout 600 -j2 -R "$TSAN_TESTS"
)
check_reports "tsan"
echo "hardening: [tsan] took $((SECONDS - stage_start))s"
rm -rf "$REPORTS"
