#!/usr/bin/env bash
# Instructions per request (issue 20), run by hand (never a test):
#
#   bash tests/bench/callgrind.sh [path/to/agni-gateway]
#
# Unlike bench.sh's times, an instruction count hardly depends on how busy the
# machine is, so it compares builds on a shared machine. Each server runs
# under `valgrind --tool=callgrind`, gets CG_WARMUP of wrk traffic at one
# connection, has its counters zeroed (`callgrind_control -z`), gets CG_DURATION
# more, and is dumped (`callgrind_control -d`); the dump's total divided by the
# requests wrk counted is the figure. All threads of the server are counted
# (the request threads, the audit commit, the upstream client), nothing of
# wrk or the upstream nginx. Rows: the ceiling proxy, the bare 403, the gateway's
# allowed release and its denial, as in bench.sh.
#
# Environment knobs (optional):
#   CG_DURATION=8s   measured wrk run per row
#   CG_WARMUP=3s     unmeasured warm-up per row
#   CG_KEEP_DUMPS=DIR  copy the callgrind dumps there (for callgrind_annotate)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
LUA="$SCRIPT_DIR/release.lua"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$SCRIPT_DIR/lib.sh"

DURATION="${CG_DURATION:-8s}"
WARMUP="${CG_WARMUP:-3s}"
READY_WAIT=180  # servers start slowly under valgrind

print_run_header "$@"
print_cpu_busy
resolve_gateway "${1:-}"
[[ $HAVE_GW == 1 ]] || die "gateway binary '$GW' not found"
install_deps valgrind
if ! command -v valgrind >/dev/null || ! command -v callgrind_control >/dev/null; then
  die "valgrind (with callgrind_control) is needed: apt-get install valgrind"
fi
make_tmp agni-callgrind
build_helper ceiling_proxy; CEILING_BIN=$HELPER
build_helper bare_403;      BARE_BIN=$HELPER

read -r UP_PORT CEIL_PORT BARE_PORT GW_PORT GW_ADMIN_PORT <<<"$(free_ports 5)"
start_upstream_nginx "$UP_PORT"

export AGNI_API_KEY="${AGNI_API_KEY:-bench-key}"
GWD="$TMP/gateway"
make_tokens "$GWD"
write_gateway_config "$GWD" "$GW_PORT" "$GW_ADMIN_PORT" "$UP_PORT" '{"server": {"threads": 64}}'

VG=(valgrind --tool=callgrind --dump-instr=no --dump-line=no)

RUN_NO=0
# run_wrk NAME URL EXPECTED TOKEN DURATION: one connection; sets LINE
run_wrk() {
  local out="$TMP/wrk.$RUN_NO.$1.out"
  RUN_NO=$((RUN_NO + 1))
  timeout 600 wrk -t1 -c1 -d"$5" --timeout 60s -s "$LUA" "$2" -- "$3" $((RUN_NO * 1000000)) "$4" 1 \
    >"$out" 2>&1 || { cat "$out" >&2; die "wrk against $1 failed"; }
  LINE="$(grep '^BENCH ' "$out" | tail -n1)"
  [[ "$(field bad_status "$LINE")" == 0 && "$(field sock_errors "$LINE")" == 0 ]] ||
    die "$1: unexpected statuses or socket errors: $LINE"
}

# count NAME PID DUMP_PREFIX URL EXPECTED TOKEN: prints the row
count() {
  local name=$1 pid=$2 prefix=$3 url=$4 want=$5 token=$6 requests total dump
  run_wrk "$name" "$url" "$want" "$token" "$WARMUP"
  callgrind_control -z "$pid" >/dev/null 2>&1
  run_wrk "$name" "$url" "$want" "$token" "$DURATION"
  requests="$(field requests "$LINE")"
  callgrind_control -d "$pid" >/dev/null 2>&1
  # the newest dump: callgrind numbers them .1, .2, ... after the pid
  dump="$(find "$(dirname "$prefix")" -name "$(basename "$prefix").*" -printf '%T@ %p\n' | sort -n | tail -n1 | cut -d' ' -f2-)"
  total="$(awk '/^(summary|totals):/{print $2; exit}' "$dump")"
  if [[ -n "${CG_KEEP_DUMPS:-}" ]]; then mkdir -p "$CG_KEEP_DUMPS"; cp "$dump" "$CG_KEEP_DUMPS/callgrind.$name.out"; fi
  printf '%-10s requests %6d  instructions %14d  per request %9.0f\n' "$name" "$requests" "$total" \
    "$(awk -v t="$total" -v r="$requests" 'BEGIN{print (r > 0 ? t / r : 0)}')"
}

echo "instructions per request, one connection, wrk $DURATION after $WARMUP of warm-up (callgrind, all threads):"
start_bg ceiling "${VG[@]}" --callgrind-out-file="$TMP/cg.ceiling.%p" "$CEILING_BIN" "$CEIL_PORT" "$UP_PORT" 64 bench-key
CEIL_PID=$LAST_PID
wait_http "http://127.0.0.1:$CEIL_PORT$SAMPLE_PATH" 200 "$CEIL_PID" ceiling "$TMP/ceiling.log" -X DELETE
count ceiling "$CEIL_PID" "$TMP/cg.ceiling.$CEIL_PID" "http://127.0.0.1:$CEIL_PORT" 200 none
stop_pid "$CEIL_PID"

start_bg bare-403 "${VG[@]}" --callgrind-out-file="$TMP/cg.bare.%p" "$BARE_BIN" "$BARE_PORT" 64
BARE_PID=$LAST_PID
wait_http "http://127.0.0.1:$BARE_PORT$SAMPLE_PATH" 403 "$BARE_PID" bare-403 "$TMP/bare-403.log" -X DELETE
count bare-403 "$BARE_PID" "$TMP/cg.bare.$BARE_PID" "http://127.0.0.1:$BARE_PORT" 403 none
stop_pid "$BARE_PID"

# exec keeps the pid valgrind's, so callgrind_control finds it
(cd "$GWD" && exec "${VG[@]}" --callgrind-out-file="$TMP/cg.gw.%p" "$GW" serve --config "$GWD/config.json") \
  >"$GWD/gateway.log" 2>&1 &
GW_PID=$!
PIDS+=("$GW_PID")
wait_http "http://127.0.0.1:$GW_PORT$SAMPLE_PATH" 403 "$GW_PID" gateway "$GWD/gateway.log" -X DELETE \
  -H "Authorization: Bearer $MALLORY_TOKEN"
count gw-allow "$GW_PID" "$TMP/cg.gw.$GW_PID" "http://127.0.0.1:$GW_PORT" 200 "$ALICE_TOKEN"
count gw-deny "$GW_PID" "$TMP/cg.gw.$GW_PID" "http://127.0.0.1:$GW_PORT" 403 "$MALLORY_TOKEN"
