#!/usr/bin/env bash
# Runs one libFuzzer target: first every seed and every regression input once
# (a crash fixed once must stay fixed), then a bounded fuzzing run from the
# seeds. Any crash, leak, sanitizer report or contract violation fails.
#
# Usage: run_fuzz.sh FUZZER SEED_DIR REGRESSION_DIR
#   AGNI_FUZZ_SECONDS=N   length of the fuzzing run (default 20; CI uses this)
#   AGNI_FUZZ_KEEP=DIR    keep the grown corpus in DIR instead of discarding it
# New inputs found by the run never touch the repository's seed folder.
set -euo pipefail

fuzzer="$1"; seeds="$2"; regressions="$3"
seconds="${AGNI_FUZZ_SECONDS:-20}"
name="$(basename "$fuzzer")"
dict="$(dirname "${BASH_SOURCE[0]}")/${name#fuzz_}.dict"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

common=(-max_len=4096 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$work/")
[[ -f "$dict" ]] && common+=(-dict="$dict")

echo "== $name: replaying seeds and regressions"
if ! "$fuzzer" "${common[@]}" -runs=0 "$seeds" >"$work/replay.log" 2>&1; then
  cat "$work/replay.log"
  echo "FAIL: $name fails on a seed input" >&2
  exit 1
fi
if compgen -G "$regressions/*" >/dev/null; then
  # Individual files: each runs once, as a unit test would.
  if ! "$fuzzer" "${common[@]}" "$regressions"/* >"$work/regress.log" 2>&1; then
    cat "$work/regress.log"
    echo "FAIL: $name fails on a regression input" >&2
    exit 1
  fi
  echo "== $name: $(ls "$regressions" | wc -l) regression input(s) pass"
fi

corpus="${AGNI_FUZZ_KEEP:-$work/corpus}"
mkdir -p "$corpus"
cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true

echo "== $name: fuzzing for ${seconds}s"
if ! "$fuzzer" "${common[@]}" -max_total_time="$seconds" -print_final_stats=1 \
    "$corpus" >"$work/run.log" 2>&1; then
  tail -n 60 "$work/run.log"
  for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
    [[ -e "$f" ]] || continue
    mkdir -p /tmp/agni-fuzz-findings
    cp "$f" "/tmp/agni-fuzz-findings/$name-$(basename "$f")"
    echo "finding kept as /tmp/agni-fuzz-findings/$name-$(basename "$f");" \
         "after the fix, add it to $regressions/" >&2
  done
  echo "FAIL: $name found a crash or sanitizer report" >&2
  exit 1
fi
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' \
  "$work/run.log" | sed "s/^/$name /"
grep -E 'cov: [0-9]+' "$work/run.log" | tail -n 1 | sed "s/^/$name final: /"
echo "OK: $name"
