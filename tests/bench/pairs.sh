#!/usr/bin/env bash
# Two gateway builds running side by side, one cell measured in short
# alternating runs, run by hand (never a timed test):
#
#   bash tests/bench/pairs.sh OLD_BINARY NEW_BINARY CELL CONNECTIONS [PAIRS]
#
# CELL is `allow` (the allowed release, 200) or `deny` (the denial, 403);
# PAIRS defaults to 10. Both gateways start once, each with its own audit
# database, against one upstream nginx, and are warmed up at 1 connection.
# Then each pair runs wrk against one and at once against the other (order
# swapped every pair), and prints both figures and new / old. On this kind of
# machine the same build's throughput swings by half from one minute to the
# next, and ab.sh's rounds (a fresh start of each build, four cells) span
# minutes; runs seconds apart move together, so the ratio of a pair is
# steadier than either figure. The closing line counts the pairs in which the
# new build was faster and used less CPU per request, and gives the medians
# of both ratios.
#
# Environment knobs (optional):
#   PAIRS_DURATION=3s  wrk duration of each run
#   AB_OLD_CONFIG, AB_NEW_CONFIG  JSON merged into that build's config (one
#                    level deep), as for ab.sh
#   BENCH_PIN=0      don't pin wrk and the upstream nginx (see bench.sh)
#   BENCH_KEEP=1     keep the temp dir
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
LUA="$SCRIPT_DIR/release.lua"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$SCRIPT_DIR/lib.sh"

if [[ $# -lt 4 || "$1" == -h || "$1" == --help ]]; then
  sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
CELL=$3
CONNS=$4
PAIRS="${5:-10}"
DURATION="${PAIRS_DURATION:-3s}"
[[ "$CELL" == allow || "$CELL" == deny ]] || die "CELL must be allow or deny, not '$CELL'"
[[ "$CONNS" =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must be a positive number, not '$CONNS'"
[[ "$PAIRS" =~ ^[1-9][0-9]*$ ]] || die "PAIRS must be a positive number, not '$PAIRS'"
declare -A BIN PORT PID TOKEN
for label in old new; do
  [[ $label == old ]] && arg=$1 || arg=$2
  resolve_gateway "$arg"
  ((HAVE_GW)) || die "not an executable gateway: $arg"
  BIN[$label]=$GW
done

print_run_header "$@"
install_deps
print_cpu_busy
printf 'old: %s\nnew: %s\n%s@%s, %s pairs of %s runs\n' "${BIN[old]}" "${BIN[new]}" "$CELL" "$CONNS" "$PAIRS" "$DURATION"
make_tmp agni-pairs
set_pinning
read -r UP_PORT <<<"$(free_ports 1)"
start_upstream_nginx "$UP_PORT" "${UP_PIN[@]}"
export AGNI_API_KEY=bench-key

WANT=200
[[ $CELL == deny ]] && WANT=403
for label in old new; do
  GW=${BIN[$label]}
  read -r GW_PORT GW_ADMIN_PORT <<<"$(free_ports 2)"
  GWD="$TMP/$label"
  make_tokens "$GWD"
  [[ $label == old ]] && extra=${AB_OLD_CONFIG:-} || extra=${AB_NEW_CONFIG:-}
  write_gateway_config "$GWD" "$GW_PORT" "$GW_ADMIN_PORT" "$UP_PORT" "$extra"
  start_gateway "$GWD"
  PORT[$label]=$GW_PORT
  PID[$label]=$GW_PID
  TOKEN[$label]=$ALICE_TOKEN
  [[ $CELL == deny ]] && TOKEN[$label]=$MALLORY_TOKEN
  "${WRK_PIN[@]}" wrk -t1 -c1 -d2s -s "$LUA" "http://127.0.0.1:$GW_PORT" -- 200 $((RANDOM * 100)) "$ALICE_TOKEN" 1 >/dev/null
done

# run LABEL: one wrk run against that gateway; prints "REQUESTS/S CPU_US"
run() {
  local label=$1 threads=1 line cpu0 cpu1
  ((CONNS > 1)) && threads=2
  cpu0=$(cpu_ticks "${PID[$label]}")
  line=$("${WRK_PIN[@]}" wrk -t"$threads" -c"$CONNS" -d"$DURATION" -s "$LUA" \
    "http://127.0.0.1:${PORT[$label]}" -- "$WANT" $((RANDOM * 100)) "${TOKEN[$label]}" "$threads" | grep '^BENCH')
  cpu1=$(cpu_ticks "${PID[$label]}")
  [[ "$line" =~ bad_status=0\ sock_errors=0 ]] || die "$label: errors in the run: $line"
  printf '%s %s\n' "$(field rps "$line")" "$(cpu_us_per_request $((cpu1 - cpu0)) "$(field requests "$line")")"
}

printf '%-6s %12s %12s %12s %12s %9s %9s\n' pair "old req/s" "old cpu us" "new req/s" "new cpu us" "req/s" "cpu"
declare -A RPS CPU
for ((pair = 1; pair <= PAIRS; pair++)); do
  order=(old new)
  ((pair % 2 == 0)) && order=(new old)
  for label in "${order[@]}"; do
    read -r "RPS[$label]" "CPU[$label]" <<<"$(run "$label")"
  done
  awk -v p="$pair" -v ro="${RPS[old]}" -v co="${CPU[old]}" -v rn="${RPS[new]}" -v cn="${CPU[new]}" \
    'BEGIN { printf "%-6s %12.1f %12.1f %12.1f %12.1f %9.3f %9.3f\n", p, ro, co, rn, cn, rn / ro, cn / co }' |
    tee -a "$TMP/pairs"
done

echo
awk '{ r[NR] = $6; c[NR] = $7; if ($6 > 1) faster++; if ($7 < 1) leaner++ }
  function med(v, k,   i, j, t) {
    for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2 }
  END { printf "new / old over %d pairs: faster in %d, less CPU per request in %d; median ratio %.3f (requests/s), %.3f (CPU per request)\n",
        NR, faster + 0, leaner + 0, med(r, NR), med(c, NR) }' "$TMP/pairs"
