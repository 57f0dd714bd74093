#!/usr/bin/env bash
# The long fuzzing run: builds the libFuzzer targets (clang, ASan+UBSan) and
# fuzzes each for SECONDS (default 3600), keeping the grown corpora in
# $AGNI_FUZZ_CORPUS (default /var/tmp/agni-fuzz-corpus) so the next long run
# continues where this one stopped. Findings are kept in /tmp/agni-fuzz-findings.
#
# Usage: bash tests/fuzz/long_run.sh [SECONDS]
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${AGNI_ASAN_BUILD_DIR:-$REPO/build-asan}"
SECONDS_EACH="${1:-3600}"
CORPORA="${AGNI_FUZZ_CORPUS:-/var/tmp/agni-fuzz-corpus}"

CC=clang-14 CXX=clang++-14 cmake -S "$REPO" -B "$BUILD" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAGNI_SANITIZE=address,undefined \
  -DAGNI_FUZZ=ON >/dev/null
targets=(phone_path config_loader policy_loader approvals_body jwt)
cmake --build "$BUILD" --target "${targets[@]/#/fuzz_}"

status=0
for t in "${targets[@]}"; do
  mkdir -p "$CORPORA/$t"
  AGNI_FUZZ_SECONDS="$SECONDS_EACH" AGNI_FUZZ_KEEP="$CORPORA/$t" \
    bash "$REPO/tests/fuzz/run_fuzz.sh" "$BUILD/fuzz_$t" \
    "$REPO/tests/fuzz/corpus/$t" "$REPO/tests/fuzz/regressions/$t" || status=1
done
exit "$status"
