#!/usr/bin/env bash
# Two builds of the gateway side by side, run by hand (never a timed test):
#
#   bash tests/bench/ab.sh OLD_BINARY NEW_BINARY [ROUNDS]
#
# Machine noise moves a c=1 p99 by half a millisecond from one minute to the
# next, so a change is judged from interleaved rounds, not from two bench.sh
# runs taken apart. Each round starts each build in turn (fresh temp dir and
# audit database, order swapped every round), against the same upstream nginx,
# and measures with wrk: the allowed release at 1 connection, the denial at 1,
# the allowed release at 32, the denial at 32. Then it prints every round and
# the medians. After each cell it also prints the gateway's own view of that
# cell, read from /metrics before and after: the mean time inside the
# gateway, of an audit commit and of the upstream call, and the share of
# requests over 1 ms; and the gateway process's CPU time per request.
#
# Environment knobs (optional):
#   AB_DURATION=8s   wrk duration per cell
#   AB_WARMUP=2s     wrk warm-up at 1 connection before each build's cells
#   AB_OLD_CONFIG, AB_NEW_CONFIG  JSON merged into that build's config (one
#                    level deep), e.g. the same binary twice with
#                    '{"server": {"cpu_scheduling": "other"}}' as the old one
#   BENCH_PIN=0      don't pin wrk and the upstream nginx (see bench.sh)
#   BENCH_KEEP=1     keep the temp dir
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
LUA="$SCRIPT_DIR/release.lua"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$SCRIPT_DIR/lib.sh"

if [[ $# -lt 2 || "$1" == -h || "$1" == --help ]]; then
  sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
DURATION="${AB_DURATION:-8s}"
WARMUP="${AB_WARMUP:-2s}"
ROUNDS="${3:-4}"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive number, not '$ROUNDS'"
declare -A BIN
for label in old new; do
  [[ $label == old ]] && arg=$1 || arg=$2
  resolve_gateway "$arg"
  ((HAVE_GW)) || die "not an executable gateway: $arg"
  BIN[$label]=$GW
done

print_run_header "$@"
install_deps
print_cpu_busy
printf 'old: %s\nnew: %s\nrounds: %s, %s per cell\n' "${BIN[old]}" "${BIN[new]}" "$ROUNDS" "$DURATION"
make_tmp agni-ab
set_pinning
read -r UP_PORT <<<"$(free_ports 1)"
start_upstream_nginx "$UP_PORT" "${UP_PIN[@]}"
export AGNI_API_KEY=bench-key

# The sums and counts of the gateway's duration histograms, and the releases
# answered within 1 ms, one "name value" per line. Only the release route's
# requests count, so the scrapes themselves do not.
gateway_view() {
  curl -sf "http://127.0.0.1:$1/metrics" | awk '
    /^agni_gateway_request_duration_seconds_/ && !/route="release"/ { next }
    /^agni_gateway_(request|audit_commit|upstream_request)_duration_seconds_(sum|count)/ {
      k = $1; sub(/\{.*\}/, "", k); s[k] += $2 }
    /^agni_gateway_request_duration_seconds_bucket/ && /le="0.001"/ { s["le1ms"] += $2 }
    END { for (k in s) print k, s[k] }' | sort
}

# cell LABEL NAME CONNS WANT TOKEN: one wrk run against the running gateway
cell() {
  local label=$1 name=$2 conns=$3 want=$4 token=$5 threads=1 line
  ((conns > 1)) && threads=2
  gateway_view "$GW_ADMIN_PORT" >"$TMP/before"
  local cpu0 cpu1
  cpu0=$(cpu_ticks "$GW_PID")
  line=$("${WRK_PIN[@]}" wrk -t"$threads" -c"$conns" -d"$DURATION" -s "$LUA" \
    "http://127.0.0.1:$GW_PORT" -- "$want" $((RANDOM * 100)) "$token" "$threads" | grep '^BENCH')
  cpu1=$(cpu_ticks "$GW_PID")
  gateway_view "$GW_ADMIN_PORT" >"$TMP/after"
  local view
  view=$(join "$TMP/before" "$TMP/after" | awk '{ d[$1] = $3 - $2 }
    function mean(b) { c = d[b "_count"]; return c > 0 ? 1000 * d[b "_sum"] / c : 0 }
    END {
      n = d["agni_gateway_request_duration_seconds_count"]
      printf "inside %.3f ms, commit %.3f ms, upstream %.3f ms, over 1 ms %.1f%%",
        mean("agni_gateway_request_duration_seconds"),
        mean("agni_gateway_audit_commit_duration_seconds"),
        mean("agni_gateway_upstream_request_duration_seconds"),
        (n > 0 ? 100 * (n - d["le1ms"]) / n : 0) }')
  [[ "$line" =~ bad_status=0\ sock_errors=0 ]] || die "$label $name: errors in the run: $line"
  view+=", cpu $(cpu_us_per_request $((cpu1 - cpu0)) "$(field requests "$line")") us/request"
  printf '%s %s %s | %s\n' "$label" "$name" "$(field rps "$line") $(field p50_ms "$line") $(field p99_ms "$line")" "$view" |
    tee -a "$TMP/results"
}

for ((round = 1; round <= ROUNDS; round++)); do
  order=(old new)
  ((round % 2 == 0)) && order=(new old)
  for label in "${order[@]}"; do
    GW=${BIN[$label]}
    read -r GW_PORT GW_ADMIN_PORT <<<"$(free_ports 2)"
    GWD="$TMP/$label-$round"
    make_tokens "$GWD"
    [[ $label == old ]] && extra=${AB_OLD_CONFIG:-} || extra=${AB_NEW_CONFIG:-}
    write_gateway_config "$GWD" "$GW_PORT" "$GW_ADMIN_PORT" "$UP_PORT" "$extra"
    start_gateway "$GWD"
    "${WRK_PIN[@]}" wrk -t1 -c1 -d"$WARMUP" -s "$LUA" "http://127.0.0.1:$GW_PORT" -- 200 $((RANDOM * 100)) "$ALICE_TOKEN" 1 >/dev/null
    cell "$label" allow@1 1 200 "$ALICE_TOKEN"
    cell "$label" deny@1 1 403 "$MALLORY_TOKEN"
    cell "$label" allow@32 32 200 "$ALICE_TOKEN"
    cell "$label" deny@32 32 403 "$MALLORY_TOKEN"
    stop_pid "$GW_PID"
  done
done

echo
echo "medians over $ROUNDS rounds (requests/s, p50 ms, p99 ms):"
for name in allow@1 deny@1 allow@32 deny@32; do
  for label in old new; do
    awk -v l="$label" -v n="$name" '$1 == l && $2 == n { r[++k] = $3; a[k] = $4; b[k] = $5 }
      function med(v, k,   i, j, t) {
        for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
        return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2 }
      END { printf "  %-9s %-4s %9.1f %7.3f %7.3f\n", n, l, med(r, k), med(a, k), med(b, k) }' "$TMP/results"
  done
done
