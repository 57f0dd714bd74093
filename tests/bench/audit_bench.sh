#!/usr/bin/env bash
# Audit figures (run by hand, never a test): group-commit writer throughput,
# filtered GET /v1/audit pages, `audit verify` and `audit export` over a log of
# 1,000,000 records, then audit_scale_bench.sh: start to ready, the
# background verifier's rate, HTTP pages, `audit tail --follow`, peak RSS.
#
# Usage: bash tests/bench/audit_bench.sh [RECORDS] [WRITER_SECONDS]
#   AGNI_BUILD_DIR=DIR   build directory (default: <repo>/build)
#   AGNI_BENCH_DIR=DIR   where the database goes (default: a temp folder)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${AGNI_BUILD_DIR:-$REPO/build}"
RECORDS="${1:-1000000}"
WRITER_SECONDS="${2:-5}"
work="${AGNI_BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/agni-audit-bench.XXXXXX")}"
mkdir -p "$work"

cmake --build "$BUILD" --target audit_bench agni-gateway >/dev/null
db="$work/audit.db"
"$BUILD/audit_bench" "$db" "$RECORDS" "$WRITER_SECONDS"

echo
echo "audit verify --db over $(sqlite3 "$db" 'SELECT count(*) FROM audit_records') records:"
start=$(date +%s%N)
"$BUILD/agni-gateway" audit verify --db "$db"
echo "  $(( ($(date +%s%N) - start) / 1000000 )) ms"

echo "audit export --format jsonl:"
start=$(date +%s%N)
"$BUILD/agni-gateway" audit export --db "$db" --out "$work/all.jsonl"
echo "  $(( ($(date +%s%N) - start) / 1000000 )) ms, $(stat -c %s "$work/all.jsonl") bytes"
if [[ -x /usr/bin/time ]]; then
  echo "  peak memory (max RSS) of the export: $(/usr/bin/time -f %M "$BUILD/agni-gateway" audit export --db "$db" --out /dev/null 2>&1 | tail -1) KiB"
fi

echo "audit verify --jsonl:"
start=$(date +%s%N)
"$BUILD/agni-gateway" audit verify --jsonl "$work/all.jsonl"
echo "  $(( ($(date +%s%N) - start) / 1000000 )) ms"

echo "audit export --format csv:"
start=$(date +%s%N)
"$BUILD/agni-gateway" audit export --db "$db" --format csv --out "$work/all.csv"
echo "  $(( ($(date +%s%N) - start) / 1000000 )) ms"
bash "$REPO/tests/bench/audit_scale_bench.sh" "$BUILD/agni-gateway" "$db" "$work/scale"
[[ -z "${AGNI_BENCH_DIR:-}" ]] && rm -rf "$work"
exit 0
