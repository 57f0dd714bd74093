#!/usr/bin/env bash
# Isolation and overload benchmark of agni-gateway (issue 7), run by hand,
# never a timed test. Loopback only, bounded in time, every process it starts
# is killed on exit.
#
#   bash tests/bench/isolation.sh [path/to/agni-gateway]   # default: build/agni-gateway
#
# a. held:     256 releases held open by a slow upstream (slow_upstream.cc,
#              answers after ISO_DELAY_MS), and side by side, unloaded first
#              and then while they are held: /livez, /readyz, /metrics on the
#              admin port (requests/s, p50, p99; target p99 < 20 ms), the deny
#              path at 32 connections (target >= 0.5x unloaded), and
#              GET /v1/approvals?status=pending as an authenticated user.
# b. overload: ISO_OVERLOAD_CLIENTS (64) releases at once against
#              upstream.max_in_flight = ISO_MAX_IN_FLIGHT (32): how many 503
#              with Retry-After, how many 200, time to the first 503, RSS.
# c. flood:    ISO_FLOOD_N (1,000,000) unauthenticated requests (a bad token)
#              at 32 connections against the normal fast upstream while one
#              connection releases as an allowed user: flood requests/s,
#              legitimate releases (count, errors, p99), peak RSS, audit db
#              + WAL growth, audit rows added, bytes per million rejected.
#
# The overload keys (server.max_connections, server.max_queued_connections,
# upstream.max_in_flight) are used only when `agni-gateway check-config`
# accepts them; otherwise the gateway runs with server.threads: 512 and no
# in-flight cap, and the output says so.
#
# Environment knobs (optional):
#   BENCH_DURATION=5s          wrk duration of each deny-path cell
#   ISO_ADMIN_DURATION=3s      wrk duration of each admin endpoint cell
#   ISO_DELAY_MS=5000          the slow upstream's delay
#   ISO_HELD=256               releases held open in part a
#   ISO_MAX_IN_FLIGHT=32       upstream.max_in_flight in part b
#   ISO_OVERLOAD_CLIENTS=64    concurrent releases in part b
#   ISO_FLOOD_N=1000000        unauthenticated requests in part c
#   ISO_FLOOD_MAX_S=900        part c stops after this many seconds in any case
#   ISO_PARTS="a b c"          which parts to run
#   BENCH_KEEP=1               keep the temp dir (configs, logs, audit dbs)
#   BENCH_BIN_DIR=DIR          where helper programs are built (default build/bench)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$SCRIPT_DIR/lib.sh"
RELEASE_LUA="$SCRIPT_DIR/release.lua"
GET_LUA="$SCRIPT_DIR/get.lua"
FLOOD_LUA="$SCRIPT_DIR/flood.lua"
CLIENT="$SCRIPT_DIR/iso_client.py"

DURATION="${BENCH_DURATION:-5s}"
ADMIN_DURATION="${ISO_ADMIN_DURATION:-3s}"
DELAY_MS="${ISO_DELAY_MS:-5000}"
HELD="${ISO_HELD:-256}"
MAX_IN_FLIGHT="${ISO_MAX_IN_FLIGHT:-32}"
OVERLOAD_CLIENTS="${ISO_OVERLOAD_CLIENTS:-64}"
FLOOD_N="${ISO_FLOOD_N:-1000000}"
FLOOD_MAX_S="${ISO_FLOOD_MAX_S:-900}"
PARTS="${ISO_PARTS:-a b c}"
FLOOD_TOKEN="agni-flood-not-a-valid-token-0000000000000000"

print_run_header "$@"
printf 'parts: %s; deny cells %s, admin cells %s; slow upstream delay %s ms; held %s; overload %s clients vs max_in_flight %s; flood %s requests (at most %s s)\n' \
  "$PARTS" "$DURATION" "$ADMIN_DURATION" "$DELAY_MS" "$HELD" "$OVERLOAD_CLIENTS" "$MAX_IN_FLIGHT" "$FLOOD_N" "$FLOOD_MAX_S"
print_cpu_busy

resolve_gateway "${1:-}"
[[ $HAVE_GW == 1 ]] || die "gateway binary '$GW' not found or not executable (build it: cmake -S . -B build -G Ninja && ninja -C build agni-gateway)"
echo "gateway: $GW ($("$GW" version 2>/dev/null | head -n1 || echo '?'))"

install_deps sqlite3
make_tmp agni-isolation
build_helper slow_upstream; SLOW_BIN=$HELPER
export AGNI_API_KEY="${AGNI_API_KEY:-bench-key}"

read -r SLOW_PORT UP_PORT GW_PORT GW_ADMIN_PORT <<<"$(free_ports 4)"
echo "temp dir: $TMP"
echo "ports: slow-upstream=$SLOW_PORT upstream=$UP_PORT gateway=$GW_PORT gateway-admin=$GW_ADMIN_PORT"

# Threads for the held releases: one per held connection plus the measuring
# connections, whatever the overload keys give.
FALLBACK_THREADS=$(( HELD + 256 ))
(( FALLBACK_THREADS < 512 )) && FALLBACK_THREADS=512

# ---------------------------------------------------------------- overload keys?
make_tokens "$TMP/detect"
write_gateway_config "$TMP/detect" "$GW_PORT" "$GW_ADMIN_PORT" "$UP_PORT"
"$GW" check-config --config "$TMP/detect/config.json" >"$TMP/detect/base.out" 2>&1 \
  || { cat "$TMP/detect/base.out" >&2; die "check-config rejects the base config"; }
write_gateway_config "$TMP/detect" "$GW_PORT" "$GW_ADMIN_PORT" "$UP_PORT" \
  '{"server": {"max_connections": 1024, "max_queued_connections": 256}, "upstream": {"max_in_flight": 256}}'
if "$GW" check-config --config "$TMP/detect/config.json" >"$TMP/detect/keys.out" 2>&1; then
  NEW_KEYS=1
  echo "overload keys: accepted by check-config (server.max_connections, server.max_queued_connections, upstream.max_in_flight)"
else
  NEW_KEYS=0
  echo "overload keys: NOT accepted by this binary's check-config; falling back to server.threads: $FALLBACK_THREADS and no upstream in-flight cap:"
  sed 's/^/  | /' "$TMP/detect/keys.out" | head -n 5
fi

# gateway_extra CAP -> the config additions (CAP: upstream.max_in_flight when the
# overload keys exist; ignored otherwise)
gateway_extra() {
  local cap=$1
  if [[ $NEW_KEYS == 1 ]]; then
    printf '{"server": {"threads": 64, "max_connections": %d, "max_queued_connections": 256}, "upstream": {"max_in_flight": %d, "read_timeout": "60s"}}' \
      "$FALLBACK_THREADS" "$cap"
  else
    printf '{"server": {"threads": %d}, "upstream": {"read_timeout": "60s"}}' "$FALLBACK_THREADS"
  fi
}

# new_gateway NAME UPSTREAM_PORT EXTRA_JSON: a fresh gateway (own dir, audit
# db) on GW_PORT; sets GWD, GW_PID and starts its RSS sampler
new_gateway() {
  GWD="$TMP/$1"
  mkdir -p "$GWD"
  cp "$TMP/detect/alice.json" "$TMP/detect/mallory.json" "$TMP/detect/policy.json" "$GWD/"
  write_gateway_config "$GWD" "$GW_PORT" "$GW_ADMIN_PORT" "$2" "$3"
  start_gateway "$GWD"
  start_rss_sampler "$GW_PID" "$GWD/rss.samples"
}

# stop_gateway: SIGTERM and wait for the drain (held releases finish)
stop_gateway() {
  local deadline=$((SECONDS + 20 + DELAY_MS / 1000))
  kill -TERM "$GW_PID" 2>/dev/null || true
  while kill -0 "$GW_PID" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
  kill -KILL "$GW_PID" 2>/dev/null || true
  wait "$GW_PID" 2>/dev/null || true
}

RUN_NO=0
# wrk_line OUTFILE PREFIX -> the script's parseable line
wrk_line() { grep "^$2 " "$1" | tail -n1 || true; }

# run_fg NAME wrk-args... : runs wrk in the foreground (interruptible); sets LINE
run_fg() {
  local name=$1; shift
  RUN_NO=$((RUN_NO + 1))
  local out="$TMP/wrk.$RUN_NO.$name.out"
  timeout 300 wrk "$@" >"$out" 2>&1 &
  WRK_PID=$!
  if ! wait "$WRK_PID"; then WRK_PID=""; cat "$out" >&2; die "wrk failed ($name)"; fi
  WRK_PID=""
  LINE="$(wrk_line "$out" BENCH)"
  [[ -n "$LINE" ]] || { cat "$out" >&2; die "no BENCH line from wrk ($name)"; }
}

# deny_cell -> LINE (mallory, 32 connections, expected 403)
deny_cell() {
  local base=$(( (RUN_NO + 1) * 100000 % 10000000 ))
  run_fg deny -t2 -c32 -d"$DURATION" --timeout 10s -s "$RELEASE_LUA" "http://127.0.0.1:$GW_PORT" \
    -- 403 "$base" "$MALLORY_TOKEN" 2
}
# admin_cell PATH -> LINE (1 connection, expected 200)
admin_cell() {
  run_fg "admin${1//\//-}" -t1 -c1 -d"$ADMIN_DURATION" --timeout 10s -s "$GET_LUA" "http://127.0.0.1:$GW_ADMIN_PORT$1" -- 200
}
# approvals_probe -> PROBE line (10 calls as alice, 100 ms apart)
approvals_probe() {
  python3 "$CLIENT" probe --port "$GW_PORT" --path '/v1/approvals?status=pending' \
    --token "$ALICE_TOKEN" --count 10 --interval 0.1
}

# measure_set LABEL: admin endpoints, deny path, approvals; appends to $RESULTS_A
measure_set() {
  local label=$1 p line
  for p in /livez /readyz /metrics; do
    admin_cell "$p"
    line=$LINE
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$p" "$(field rps "$line")" "$(field p50_ms "$line")" \
      "$(field p99_ms "$line")" "$(( $(field bad_status "$line") + $(field sock_errors "$line") ))" >>"$RESULTS_A"
    printf '  %-8s %-30s %s\n' "$label" "$p" "${line#BENCH }"
  done
  deny_cell
  line=$LINE
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "deny@32" "$(field rps "$line")" "$(field p50_ms "$line")" \
    "$(field p99_ms "$line")" "$(( $(field bad_status "$line") + $(field sock_errors "$line") ))" >>"$RESULTS_A"
  printf '  %-8s %-30s %s\n' "$label" "deny@32" "${line#BENCH }"
  line="$(approvals_probe)"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "approvals" "$(field rps "$line")" "$(field p50_ms "$line")" \
    "$(field p99_ms "$line")" "$(field statuses "$line")" >>"$RESULTS_A"
  printf '  %-8s %-30s %s\n' "$label" "GET /v1/approvals?status=pending" "${line#PROBE }"
}

slow_count() { curl -s --max-time 5 "http://127.0.0.1:$SLOW_PORT/count" || echo "received=? in_flight=? max_in_flight=?"; }

wants() { [[ " $PARTS " == *" $1 "* ]]; }

if wants a || wants b; then
  start_bg slow-upstream "$SLOW_BIN" "$SLOW_PORT" "$DELAY_MS" "$(( HELD + OVERLOAD_CLIENTS + 128 ))"
  SLOW_PID=$LAST_PID
  wait_http "http://127.0.0.1:$SLOW_PORT/count" 200 "$SLOW_PID" slow-upstream "$TMP/slow-upstream.log"
fi

# ================================================================ a. held
if wants a; then
  echo
  echo "== a. $HELD releases held open by an upstream answering after $DELAY_MS ms"
  if [[ $NEW_KEYS == 1 ]]; then
    new_gateway held "$SLOW_PORT" "$(gateway_extra $(( HELD + 64 )))"
  else
    new_gateway held "$SLOW_PORT" "$(gateway_extra 0)"
  fi
  echo "gateway config: $(python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print(json.dumps({"server": c["server"], "upstream": {k: v for k, v in c["upstream"].items() if k != "base_url"}}))' "$GWD/config.json")"
  RESULTS_A="$TMP/results-a.tsv"
  : >"$RESULTS_A"
  echo "unloaded:"
  measure_set unloaded
  # hold: HELD connections, each a release that waits DELAY_MS, re-issued as
  # soon as it is answered, until stopped with SIGINT
  HOLD_OUT="$TMP/wrk.hold.out"
  wrk -t2 -c"$HELD" -d600s --timeout 60s -s "$RELEASE_LUA" "http://127.0.0.1:$GW_PORT" \
    -- 200 5000000 "$ALICE_TOKEN" 2 >"$HOLD_OUT" 2>&1 &
  HOLD_PID=$!
  PIDS+=("$HOLD_PID")
  deadline=$((SECONDS + 30))
  while :; do
    c="$(slow_count)"
    inflight="$(sed -n 's/.*in_flight=\([0-9]*\).*/\1/p' <<<"$c" | head -n1)"
    [[ -n "$inflight" ]] && (( inflight >= HELD )) && break
    (( SECONDS < deadline )) || { echo "WARNING: only ${inflight:-?} of $HELD releases reached the slow upstream within 30 s" >&2; break; }
    sleep 0.2
  done
  echo "held (slow upstream: $(slow_count | tr -d '\n')):"
  measure_set held
  echo "  after measuring, slow upstream: $(slow_count | tr -d '\n')"
  kill -INT "$HOLD_PID" 2>/dev/null || true
  wait "$HOLD_PID" 2>/dev/null || true
  HOLD_LINE="$(wrk_line "$HOLD_OUT" BENCH)"
  echo "  hold load (wrk -c$HELD): ${HOLD_LINE#BENCH }"
  GW_PEAK_A="$(peak_kb "$GW_PID" "$GWD/rss.samples")"
  GW_THREADS_A="$(awk '/^Threads/{print $2}' "/proc/$GW_PID/status" 2>/dev/null || echo '?')"
  stop_gateway
  echo
  echo "a. results (unloaded first, then with $HELD releases held open; same gateway process)"
  awk -F'\t' '
    { key = $2; if ($1 == "unloaded") { u_rps[key]=$3; u_p50[key]=$4; u_p99[key]=$5; u_e[key]=$6 }
      else { h_rps[key]=$3; h_p50[key]=$4; h_p99[key]=$5; h_e[key]=$6 }
      if (!(key in seen)) { seen[key]=1; order[++n]=key } }
    END {
      fmt = "%-12s %11s %9s %9s %8s | %11s %9s %9s %8s | %-22s %s\n"
      printf fmt, "what", "unl. req/s", "p50 ms", "p99 ms", "errors", "held req/s", "p50 ms", "p99 ms", "errors", "target", "verdict"
      for (i = 1; i <= n; i++) {
        k = order[i]; t = ""; v = ""
        if (k ~ /^\//) { t = "held p99 < 20 ms"; v = (h_e[k] == 0 && h_p99[k] < 20) ? "MET" : "MISSED" }
        else if (k == "deny@32") {
          r = (u_rps[k] > 0) ? h_rps[k] / u_rps[k] : 0
          t = sprintf("held/unl. %.3f >= 0.5", r); v = (h_e[k] == 0 && r >= 0.5) ? "MET" : "MISSED"
        } else { t = "statuses " h_e[k]; v = (h_e[k] ~ /^200:[0-9]+$/) ? "answered" : "NOT all 200" }
        printf fmt, k, u_rps[k], u_p50[k], u_p99[k], u_e[k], h_rps[k], h_p50[k], h_p99[k], h_e[k], t, v
      }
    }' "$RESULTS_A"
  echo "(errors: unexpected statuses + socket errors; for approvals, the statuses seen; admin cells: wrk -c1 ${ADMIN_DURATION}; deny: wrk -c32 ${DURATION}; approvals: 10 calls 100 ms apart)"
  echo "gateway peak RSS (VmHWM) in part a: ${GW_PEAK_A} kB; threads at the end: $GW_THREADS_A"
fi

# ================================================================ b. overload
if wants b; then
  echo
  echo "== b. overload: $OVERLOAD_CLIENTS releases at once, upstream answering after $DELAY_MS ms"
  new_gateway overload "$SLOW_PORT" "$(gateway_extra "$MAX_IN_FLIGHT")"
  if [[ $NEW_KEYS == 1 ]]; then
    echo "gateway: upstream.max_in_flight = $MAX_IN_FLIGHT"
  else
    echo "gateway: NO upstream.max_in_flight on this binary (server.threads: $FALLBACK_THREADS): every release is held, no 503 expected"
  fi
  before="$(slow_count | sed -n 's/^received=\([0-9]*\).*/\1/p')"
  BURST_LINE="$(python3 "$CLIENT" burst --port "$GW_PORT" --token "$ALICE_TOKEN" --clients "$OVERLOAD_CLIENTS" \
    --base 7000000 --timeout $(( DELAY_MS / 1000 + 60 )))"
  after="$(slow_count | sed -n 's/^received=\([0-9]*\).*/\1/p')"
  GW_PEAK_B="$(peak_kb "$GW_PID" "$GWD/rss.samples")"
  echo "  ${BURST_LINE#BURST }"
  echo "  releases that reached the upstream: $(( ${after:-0} - ${before:-0} ))"
  n503="$(field statuses "$BURST_LINE" | tr ',' '\n' | sed -n 's/^503://p')"
  n200="$(field statuses "$BURST_LINE" | tr ',' '\n' | sed -n 's/^200://p')"
  echo
  echo "b. results"
  printf '  %-44s %s\n' "clients" "$OVERLOAD_CLIENTS"
  printf '  %-44s %s\n' "200 (held until the upstream answered)" "${n200:-0} (median $(field p50_200_ms "$BURST_LINE") ms)"
  printf '  %-44s %s\n' "503 / with Retry-After" "${n503:-0} / $(field retry_after_503 "$BURST_LINE")"
  printf '  %-44s %s\n' "time to first 503 (ms)" "$(field first_503_ms "$BURST_LINE") (median $(field p50_503_ms "$BURST_LINE"), max $(field max_503_ms "$BURST_LINE"))"
  printf '  %-44s %s\n' "reached the upstream" "$(( ${after:-0} - ${before:-0} ))"
  printf '  %-44s %s\n' "client errors" "$(field errors "$BURST_LINE")"
  printf '  %-44s %s kB\n' "gateway peak RSS (VmHWM)" "$GW_PEAK_B"
  if [[ $NEW_KEYS == 1 ]]; then
    # bounded: no more than the cap reached the upstream, every other release
    # got a 503 with Retry-After, and the first 503 came well before the
    # upstream's delay (not after a queue)
    first="$(field first_503_ms "$BURST_LINE")"
    verdict=MISSED
    if (( ${n200:-0} <= MAX_IN_FLIGHT && $(( ${after:-0} - ${before:-0} )) <= MAX_IN_FLIGHT )) \
       && (( ${n503:-0} == OVERLOAD_CLIENTS - ${n200:-0} )) \
       && [[ "$(field retry_after_503 "$BURST_LINE")" == "${n503:-0}" && "$first" != n/a ]] \
       && awk -v f="$first" -v d="$DELAY_MS" 'BEGIN{exit !(f < d / 5)}'; then
      verdict=MET
    fi
    (( OVERLOAD_CLIENTS > MAX_IN_FLIGHT )) || verdict="n/a (no more clients than the cap)"
    printf '  %-44s %s\n' "in-flight cap held, fast 503 + Retry-After" "$verdict"
  fi
  stop_gateway
fi

# ================================================================ c. flood
if wants c; then
  echo
  echo "== c. flood: $FLOOD_N unauthenticated requests at 32 connections + 1 connection of allowed releases"
  start_upstream_nginx "$UP_PORT"
  new_gateway flood "$UP_PORT" "$(gateway_extra 256)"
  AUDIT="$GWD/audit.db"
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X DELETE -H "Authorization: Bearer $ALICE_TOKEN" \
    "http://127.0.0.1:$GW_PORT/api/v1/phone-numbers/%2B15559999990/release/")"
  [[ "$code" == 200 ]] || die "allowed release answered $code before the flood"
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X DELETE -H "Authorization: Bearer $FLOOD_TOKEN" \
    "http://127.0.0.1:$GW_PORT/api/v1/phone-numbers/%2B15559999991/release/")"
  [[ "$code" == 401 ]] || die "bad token answered $code before the flood, expected 401"
  sleep 1  # let the audit writer commit
  audit_size() { local s=0 f; for f in "$AUDIT" "$AUDIT-wal"; do [[ -e "$f" ]] && s=$(( s + $(stat -c %s "$f") )); done; echo "$s"; }
  audit_rows() { sqlite3 -readonly "file:$AUDIT?mode=ro" 'SELECT count(*) FROM audit_records' 2>/dev/null || echo '?'; }
  size0="$(audit_size)"; db0="$(stat -c %s "$AUDIT")"; wal0="$(stat -c %s "$AUDIT-wal" 2>/dev/null || echo 0)"
  rows0="$(audit_rows)"
  MARK="$TMP/flood.stopped"
  : >"$MARK"
  FLOOD_OUT="$TMP/wrk.flood.out"
  LEGIT_OUT="$TMP/wrk.legit.out"
  wrk -t1 -c1 -d"${FLOOD_MAX_S}s" --timeout 10s -s "$RELEASE_LUA" "http://127.0.0.1:$GW_PORT" \
    -- 200 3000000 "$ALICE_TOKEN" 1 >"$LEGIT_OUT" 2>&1 &
  LEGIT_PID=$!
  PIDS+=("$LEGIT_PID")
  t0=$(date +%s%N)
  wrk -t2 -c32 -d"${FLOOD_MAX_S}s" --timeout 10s -s "$FLOOD_LUA" "http://127.0.0.1:$GW_PORT" \
    -- "$FLOOD_N" 2 "$FLOOD_TOKEN" 401 "$MARK" >"$FLOOD_OUT" 2>&1 &
  FLOOD_PID=$!
  PIDS+=("$FLOOD_PID")
  last_report=$SECONDS
  while kill -0 "$FLOOD_PID" 2>/dev/null; do
    (( $(wc -l <"$MARK") >= 2 )) && break
    kill -0 "$GW_PID" 2>/dev/null || { echo "WARNING: the gateway died during the flood" >&2; break; }
    if (( SECONDS - last_report >= 30 )); then
      last_report=$SECONDS
      echo "  ... $(( ($(date +%s%N) - t0) / 1000000000 )) s, gateway RSS $(awk '/^VmRSS/{print $2, $3}' "/proc/$GW_PID/status" 2>/dev/null), audit $(( $(audit_size) / 1048576 )) MiB"
    fi
    sleep 0.2
  done
  t1=$(date +%s%N)
  kill -INT "$FLOOD_PID" 2>/dev/null || true
  wait "$FLOOD_PID" 2>/dev/null || true
  kill -INT "$LEGIT_PID" 2>/dev/null || true
  wait "$LEGIT_PID" 2>/dev/null || true
  FLOOD_LINE="$(wrk_line "$FLOOD_OUT" FLOOD)"
  LEGIT_LINE="$(wrk_line "$LEGIT_OUT" BENCH)"
  [[ -n "$FLOOD_LINE" ]] || { cat "$FLOOD_OUT" >&2; die "no FLOOD line from wrk"; }
  [[ -n "$LEGIT_LINE" ]] || { cat "$LEGIT_OUT" >&2; die "no BENCH line from the legitimate wrk"; }
  sleep 2  # the audit writer's queue drains
  GW_PEAK_C="$(peak_kb "$GW_PID" "$GWD/rss.samples")"
  GW_RSS_C="$(awk '/^VmRSS/{print $2}' "/proc/$GW_PID/status" 2>/dev/null || echo '?')"
  size1="$(audit_size)"; db1="$(stat -c %s "$AUDIT")"; wal1="$(stat -c %s "$AUDIT-wal" 2>/dev/null || echo 0)"
  rows1="$(audit_rows)"
  flood_req="$(field requests "$FLOOD_LINE")"
  elapsed_ms=$(( (t1 - t0) / 1000000 ))
  echo "  flood: ${FLOOD_LINE#FLOOD }"
  echo "  legit: ${LEGIT_LINE#BENCH }"
  reached="reached"
  (( flood_req + 64 >= FLOOD_N )) || reached="NOT reached (stopped after ${FLOOD_MAX_S} s or the gateway died)"
  echo
  echo "c. results"
  printf '  %-44s %s\n' "flood requests answered" "$flood_req of $FLOOD_N ($reached) in $(( elapsed_ms / 1000 )).$(( elapsed_ms % 1000 / 100 )) s"
  printf '  %-44s %s\n' "flood requests/s" "$(awk -v n="$flood_req" -v ms="$elapsed_ms" 'BEGIN{printf "%.1f", (ms > 0 ? n * 1000 / ms : 0)}')"
  printf '  %-44s %s\n' "flood p50 / p99 ms" "$(field p50_ms "$FLOOD_LINE") / $(field p99_ms "$FLOOD_LINE")"
  printf '  %-44s %s\n' "flood non-401 + socket errors" "$(field bad_status "$FLOOD_LINE") (e.g. $(field sample_status "$FLOOD_LINE")) + $(field sock_errors "$FLOOD_LINE")"
  legit_done=$(( $(field requests "$LEGIT_LINE") - $(field bad_status "$LEGIT_LINE") ))
  printf '  %-44s %s\n' "legitimate releases done (200)" "$legit_done"
  printf '  %-44s %s\n' "legitimate errors (non-200 + socket)" "$(field bad_status "$LEGIT_LINE") (e.g. $(field sample_status "$LEGIT_LINE")) + $(field sock_errors "$LEGIT_LINE")"
  printf '  %-44s %s\n' "legitimate p50 / p99 ms" "$(field p50_ms "$LEGIT_LINE") / $(field p99_ms "$LEGIT_LINE")"
  printf '  %-44s %s\n' "gateway peak RSS (VmHWM) / RSS at end" "$GW_PEAK_C kB / $GW_RSS_C kB"
  printf '  %-44s %s\n' "audit db + WAL before" "$size0 bytes (db $db0, wal $wal0)"
  printf '  %-44s %s\n' "audit db + WAL after" "$size1 bytes (db $db1, wal $wal1)"
  printf '  %-44s %s\n' "audit records before / after / added" "$rows0 / $rows1 / $(( rows1 - rows0 ))"
  if (( flood_req > 0 )); then
    printf '  %-44s %s\n' "audit bytes per 1,000,000 rejected" "$(awk -v d=$(( size1 - size0 )) -v n="$flood_req" 'BEGIN{printf "%.0f (%.1f MiB)", d * 1e6 / n, d * 1e6 / n / 1048576}')"
    printf '  %-44s %s\n' "audit records per 1,000,000 rejected" "$(awk -v d=$(( rows1 - rows0 - 2 * legit_done )) -v n="$flood_req" 'BEGIN{printf "%.0f", d * 1e6 / n}') (records added minus 2 per legitimate release)"
  fi
  echo "  (bytes include the legitimate loop's records: 2 per release, a few hundred bytes each)"
  stop_gateway
fi
echo
echo "nproc: $(nproc); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if (( BUSY_PCT > 15 )); then
  echo "NOTE: the CPUs were ${BUSY_PCT}% busy before the start: latencies and ratios are not reliable; re-run on an idle machine."
fi
