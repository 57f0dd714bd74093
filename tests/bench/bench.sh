#!/usr/bin/env bash
# Benchmark of agni-gateway's guarded call, run by hand (never a timed test):
#
#   bash tests/bench/bench.sh [path/to/agni-gateway]
#
# Measures, side by side in one run, at 1 and 32 connections:
#   upstream      nginx answering the vendor call directly
#   nginx-proxy   nginx as a plain reverse proxy (keepalive) in front of it
#   ceiling       the stack's ceiling: a minimal cpp-httplib reverse proxy
#                 (ceiling_proxy.cc), no policy, no audit
#   bare-403      a bare cpp-httplib server answering 403 (bare_403.cc)
#                 (ceiling and bare-403 run under SCHED_BATCH, `chrt -b`, as
#                 the gateway's threads do by default: server.cpu_scheduling)
#   gw-allow      the gateway, allowed release (policy allow + durable audit)
#   gw-deny       the gateway, authenticated user denied by policy (audited 403)
#   gw-allow-jwt  gw-allow with a JWT (RS256, keys from a jwks_file, minted
#                 here by jwt_token.py) instead of the static token
# then a "targets" table (issue 7) computed from that one run, and the
# durability bound (issue 20): a 512-byte append + fdatasync probe
# (fsync_probe.cc) on the audit database's disk, and the bound lines computed
# from it and the ceiling/bare-403 rows of the same run. Everything runs
# on 127.0.0.1, on free ports, in a temp dir; every process started here is
# killed on exit. See tests/bench/README.md and BENCHMARKS.md.
#
# Environment knobs (optional):
#   BENCH_DURATION=5s   wrk duration per measured cell
#   BENCH_WARMUP=1s     wrk warm-up per scenario (0 to skip; not reported)
#   BENCH_CONNS="1 32"  connection counts to measure (the targets need 1 and 32)
#   BENCH_PIN=0         don't pin wrk to CPU 0 and the upstream nginx to the
#                       last CPU (pinned by default on >= 2 cores)
#   BENCH_KEEP=1        keep the temp dir (configs, logs, audit db) on exit
#   BENCH_BIN_DIR=DIR   where the helper programs are built (default build/bench)
#   BENCH_BASELINE_SCHED=other  run ceiling and bare-403 under the kernel's
#                       default policy instead (for a gateway configured with
#                       "cpu_scheduling": "other")
#   BENCH_FSYNC_SAMPLES=2000  fdatasync probe samples (issue-20 bound lines)
#   BENCH_JWT_ROUNDS=3  interleaved static/JWT rounds for issue 13's ratio (0 to skip)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
LUA="$SCRIPT_DIR/release.lua"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$SCRIPT_DIR/lib.sh"

DURATION="${BENCH_DURATION:-5s}"
JWT_ROUNDS="${BENCH_JWT_ROUNDS:-3}"
WARMUP="${BENCH_WARMUP:-1s}"
CONNS="${BENCH_CONNS:-1 32}"
WRK_TIMEOUT="10s"      # per-request timeout inside wrk
THREADS=64             # the gateway's default server.threads; the helpers use the same

print_run_header "$@"
printf 'duration per cell: %s, warm-up per scenario: %s, connections: %s\n' "$DURATION" "$WARMUP" "$CONNS"
# wrk and the upstream nginx pinned; the proxies and the gateway are not.
set_pinning
printf 'pinning: wrk=%s upstream-nginx=%s (nginx-proxy, ceiling, bare-403, gateway: unpinned)\n' "${WRK_PIN[*]:-none}" "${UP_PIN[*]:-none}"
# The baselines under the policy the gateway's threads use by default, so that
# the ratios compare the work done, not the scheduler's treatment.
case "${BENCH_BASELINE_SCHED:-batch}" in
  batch) BASE_SCHED=(chrt --batch 0) ;;
  other) BASE_SCHED=(chrt --other 0) ;;
  *) die "BENCH_BASELINE_SCHED must be batch or other, not '$BENCH_BASELINE_SCHED'" ;;
esac
printf 'scheduling: ceiling, bare-403: %s; gateway: its server.cpu_scheduling (default batch)\n' "${BENCH_BASELINE_SCHED:-batch}"
print_cpu_busy

resolve_gateway "${1:-}"
if [[ $HAVE_GW != 1 ]]; then
  echo "WARNING: gateway binary '$GW' not found or not executable: gateway cells will be skipped" >&2
fi

# shellcheck disable=SC2119  # no extra packages for this script
install_deps
printf 'wrk: %s\n' "$(wrk -v 2>&1 | head -n1 | awk '{print $1, $2}')"
printf 'nginx: %s\n' "$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"
printf 'cpp-httplib: %s\n' "$(pkg-config --modversion cpp-httplib)"

make_tmp agni-bench
build_helper ceiling_proxy; CEILING_BIN=$HELPER
build_helper bare_403;      BARE_BIN=$HELPER
build_helper fsync_probe;   FSYNC_BIN=$HELPER

read -r UP_PORT PROXY_PORT CEIL_PORT BARE_PORT GW_PORT GW_ADMIN_PORT <<<"$(free_ports 6)"

# ---------------------------------------------------------------- upstream nginx
start_upstream_nginx "$UP_PORT" "${UP_PIN[@]}"

# ---------------------------------------------------------------- nginx reverse proxy
mkdir -p "$TMP/proxy"
{
  nginx_common proxy
  echo "http {"
  nginx_http_common proxy
  cat <<EOF
  upstream agni_vendor {
    server 127.0.0.1:$UP_PORT;
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$PROXY_PORT;
    location / {
      proxy_pass http://agni_vendor;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host 127.0.0.1:$UP_PORT;
    }
  }
}
EOF
} >"$TMP/proxy/nginx.conf"
start_nginx proxy
PROXY_PID=$LAST_PID
wait_http "http://127.0.0.1:$PROXY_PORT$SAMPLE_PATH" 200 "$PROXY_PID" nginx-proxy "$TMP/proxy/error.log" -X DELETE

# sanity: the upstream answers exactly the Agni success body as JSON
ctype="$(curl -s -o "$TMP/upstream/sample.json" -w '%{content_type}' -X DELETE "http://127.0.0.1:$UP_PORT$SAMPLE_PATH")"
[[ "$ctype" == application/json* ]] || die "upstream Content-Type is '$ctype'"
[[ "$(cat "$TMP/upstream/sample.json")" == "$SUCCESS_JSON" ]] || die "upstream body differs: $(cat "$TMP/upstream/sample.json")"

# ---------------------------------------------------------------- ceiling + bare 403
start_bg ceiling "${BASE_SCHED[@]}" "$CEILING_BIN" "$CEIL_PORT" "$UP_PORT" "$THREADS" bench-key
CEIL_PID=$LAST_PID
wait_http "http://127.0.0.1:$CEIL_PORT$SAMPLE_PATH" 200 "$CEIL_PID" ceiling "$TMP/ceiling.log" -X DELETE
body="$(curl -s -X DELETE "http://127.0.0.1:$CEIL_PORT$SAMPLE_PATH")"
[[ "$body" == "$SUCCESS_JSON" ]] || die "ceiling proxy body differs: $body"
start_bg bare-403 "${BASE_SCHED[@]}" "$BARE_BIN" "$BARE_PORT" "$THREADS"
BARE_PID=$LAST_PID
wait_http "http://127.0.0.1:$BARE_PORT$SAMPLE_PATH" 403 "$BARE_PID" bare-403 "$TMP/bare-403.log" -X DELETE

# ---------------------------------------------------------------- gateway
GW_PID=""
ALICE_TOKEN=""
JWT_TOKEN=""
MALLORY_TOKEN=""
if [[ $HAVE_GW == 1 ]]; then
  export AGNI_API_KEY="${AGNI_API_KEY:-bench-key}"
  GWD="$TMP/gateway"
  make_tokens "$GWD"
  # alice again, signed in at an identity provider: a JWT from a local key.
  JWT_ISSUER="https://login.bench.invalid/realms/corp"
  JWT_TOKEN="$(python3 "$SCRIPT_DIR/jwt_token.py" "$GWD" "$JWT_ISSUER")" ||
    die "could not mint the bench JWT"
  IDENTITY_JSON="\"groups\": [\"support\", \"contractors\"], \"identity\": {\"oidc\": [{\"name\": \"bench\", \"issuer\": \"$JWT_ISSUER\", \"audiences\": [\"agni-gateway\"], \"algorithms\": [\"RS256\"], \"jwks_file\": \"$GWD/jwks.json\"}]}"
  write_gateway_config "$GWD" "$GW_PORT" "$GW_ADMIN_PORT" "$UP_PORT" "{\"server\": {\"threads\": $THREADS}, $IDENTITY_JSON}"
  start_gateway "$GWD"
  start_rss_sampler "$GW_PID" "$TMP/gateway-rss.samples"
  # sanity: one allowed release (200) and one denied (403) before measuring
  code="$(curl -s -o "$GWD/allow.out" -w '%{http_code}' --max-time 10 -X DELETE \
    -H "Authorization: Bearer $ALICE_TOKEN" "http://127.0.0.1:$GW_PORT/api/v1/phone-numbers/%2B15559999990/release/")"
  [[ "$code" == 200 ]] || { cat "$GWD/allow.out" >&2; tail -n 30 "$GWD/gateway.log" >&2; die "gateway allowed path answered $code, expected 200"; }
  code="$(curl -s -o "$GWD/deny.out" -w '%{http_code}' --max-time 10 -X DELETE \
    -H "Authorization: Bearer $MALLORY_TOKEN" "http://127.0.0.1:$GW_PORT/api/v1/phone-numbers/%2B15559999991/release/")"
  [[ "$code" == 403 ]] || { cat "$GWD/deny.out" >&2; tail -n 30 "$GWD/gateway.log" >&2; die "gateway deny path answered $code, expected 403"; }
  code="$(curl -s -o "$GWD/jwt.out" -w '%{http_code}' --max-time 10 -X DELETE \
    -H "Authorization: Bearer $JWT_TOKEN" "http://127.0.0.1:$GW_PORT/api/v1/phone-numbers/%2B15559999992/release/")"
  [[ "$code" == 200 ]] || { cat "$GWD/jwt.out" >&2; tail -n 30 "$GWD/gateway.log" >&2; die "gateway allowed path with a JWT answered $code, expected 200"; }
fi

echo "temp dir: $TMP"
echo "ports: upstream=$UP_PORT nginx-proxy=$PROXY_PORT ceiling=$CEIL_PORT bare-403=$BARE_PORT gateway=$GW_PORT gateway-admin=$GW_ADMIN_PORT"
echo

# ---------------------------------------------------------------- measuring
RESULTS="$TMP/results.tsv"
: >"$RESULTS"
JWT_ROUNDS_TSV="$TMP/jwt-rounds.tsv"
: >"$JWT_ROUNDS_TSV"
RUN_NO=0

# run_wrk CONNS DURATION URL EXPECTED TOKEN -> sets LINE to the BENCH line
run_wrk() {
  local conns=$1 dur=$2 url=$3 want=$4 token=$5 threads=1 base
  (( conns > 1 )) && threads=2
  RUN_NO=$((RUN_NO + 1))
  base=$(( (RUN_NO * 1000000) % 10000000 ))
  local out="$TMP/wrk.$RUN_NO.out"
  # in the background + wait, so a TERM/INT to this script is handled at once
  timeout 120 "${WRK_PIN[@]}" wrk -t"$threads" -c"$conns" -d"$dur" --timeout "$WRK_TIMEOUT" \
    -s "$LUA" "$url" -- "$want" "$base" "$token" "$threads" >"$out" 2>&1 &
  WRK_PID=$!
  if ! wait "$WRK_PID"; then
    WRK_PID=""
    cat "$out" >&2
    die "wrk failed against $url"
  fi
  WRK_PID=""
  LINE="$(grep '^BENCH ' "$out" | tail -n1 || true)"
  [[ -n "$LINE" ]] || { cat "$out" >&2; die "no BENCH line from wrk against $url"; }
}

# The gateway's audit records and commits so far ("RECORDS COMMITS"), from its
# /metrics; "0 0" for any other server or when /metrics does not answer.
audit_counts() {
  [[ $1 == gw-* ]] || { echo "0 0"; return; }
  { curl -sf "http://127.0.0.1:$GW_ADMIN_PORT/metrics" || true; } | awk '
    /^agni_gateway_audit_records_total/ { r += $NF }
    /^agni_gateway_audit_commit_duration_seconds_count/ { c += $NF }
    END { printf "%d %d\n", r, c }'
}

measure() { # measure SCENARIO URL EXPECTED TOKEN SERVER_PID
  local name=$1 url=$2 want=$3 token=$4 pid=$5 c line t0 cpu_us a0 a1 batch
  if [[ "$WARMUP" != 0 && "$WARMUP" != 0s ]]; then
    run_wrk 32 "$WARMUP" "$url" "$want" "$token"
  fi
  for c in $CONNS; do
    t0=$(cpu_ticks "$pid")
    a0=$(audit_counts "$name")
    run_wrk "$c" "$DURATION" "$url" "$want" "$token"
    line=$LINE
    a1=$(audit_counts "$name")
    # The server's CPU time over the cell per request (microseconds).
    cpu_us=$(cpu_us_per_request $(($(cpu_ticks "$pid") - t0)) "$(field requests "$line")")
    # The gateway's audit records per commit over the cell (its batch size).
    batch=$(awk -v a="$a0 $a1" 'BEGIN { split(a, v, " "); c = v[4] - v[2]
      if (c > 0) printf "%.2f", (v[3] - v[1]) / c; else printf "-" }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$c" \
      "$(field rps "$line")" "$(field p50_ms "$line")" "$(field p99_ms "$line")" \
      "$(field bad_status "$line")" "$(field sock_errors "$line")" \
      "$(field sample_status "$line")" "$(field requests "$line")" "$cpu_us" "$batch" >>"$RESULTS"
    printf '  %-12s c=%-3s %s cpu_us=%s' "$name" "$c" "${line#BENCH }" "$cpu_us"
    [[ $batch == - ]] && echo || echo " records_per_commit=$batch"
  done
}

echo "running (wrk -d $DURATION per cell; threads: 1 for 1 connection, 2 otherwise)..."
measure upstream    "http://127.0.0.1:$UP_PORT"    200 none "$UP_PID"
measure nginx-proxy "http://127.0.0.1:$PROXY_PORT" 200 none "$PROXY_PID"
measure ceiling     "http://127.0.0.1:$CEIL_PORT"  200 none "$CEIL_PID"
measure bare-403    "http://127.0.0.1:$BARE_PORT"  403 none "$BARE_PID"
# The bound's unit, on the audit database's disk, just before the gateway rows.
FSYNC_DIR="$TMP"
[[ $HAVE_GW == 1 ]] && FSYNC_DIR="$GWD"
FSYNC_LINE="$("$FSYNC_BIN" "$FSYNC_DIR" "${BENCH_FSYNC_SAMPLES:-2000}" 512)" || die "fsync probe failed in $FSYNC_DIR"
FSYNC_P50="$(field p50_ms "$FSYNC_LINE")"
FSYNC_P99="$(field p99_ms "$FSYNC_LINE")"
FSYNC_CPU="$(field cpu_us "$FSYNC_LINE")"
printf '  %-12s %s (%s)\n' fsync-512 "${FSYNC_LINE#FSYNC }" "$(df --output=source,fstype "$FSYNC_DIR" | tail -n1 | tr -s ' ')"
if [[ $HAVE_GW == 1 ]]; then
  measure gw-allow "http://127.0.0.1:$GW_PORT" 200 "$ALICE_TOKEN" "$GW_PID"
  measure gw-allow-jwt "http://127.0.0.1:$GW_PORT" 200 "$JWT_TOKEN" "$GW_PID"
  measure gw-deny  "http://127.0.0.1:$GW_PORT" 403 "$MALLORY_TOKEN" "$GW_PID"
  # Issue 13's ratio once more, interleaved: gw-allow and gw-allow-jwt cells
  # alternate, the order swapped every round, so that neither always runs
  # second (on a larger log, after the other's traffic); the median of the
  # rounds' ratios is the figure (printed after the targets).
  for (( round = 1; round <= JWT_ROUNDS; round++ )); do
    for c in $CONNS; do
      order=("$ALICE_TOKEN" "$JWT_TOKEN")
      (( round % 2 == 0 )) && order=("$JWT_TOKEN" "$ALICE_TOKEN")
      for token in "${order[@]}"; do
        run_wrk "$c" "$DURATION" "http://127.0.0.1:$GW_PORT" 200 "$token"
        kind=static
        [[ "$token" == "$JWT_TOKEN" ]] && kind=jwt
        rps="$(field rps "$LINE")"
        (( $(field bad_status "$LINE") + $(field sock_errors "$LINE") > 0 )) && rps=0
        printf '%s\t%s\t%s\t%s\n' "$round" "$c" "$kind" "$rps" >>"$JWT_ROUNDS_TSV"
        printf '  interleaved round %s c=%-3s %-6s %s\n' "$round" "$c" "$kind" "${LINE#BENCH }"
      done
    done
  done
  kill -0 "$GW_PID" 2>/dev/null || { tail -n 30 "$GWD/gateway.log" >&2 || true; die "gateway died during the run"; }
  GW_HWM_KB="$(peak_kb "$GW_PID" "$TMP/gateway-rss.samples")"
  GW_RSS="$(awk '/^VmRSS/{print $2, $3}' "/proc/$GW_PID/status")"
  GW_THREADS="$(awk '/^Threads/{print $2}' "/proc/$GW_PID/status")"
fi
CEIL_HWM="$(awk '/^VmHWM/{print $2, $3}' "/proc/$CEIL_PID/status" 2>/dev/null || echo '?')"
BARE_HWM="$(awk '/^VmHWM/{print $2, $3}' "/proc/$BARE_PID/status" 2>/dev/null || echo '?')"
echo

# ---------------------------------------------------------------- table
echo "expected status: 200 (upstream, nginx-proxy, ceiling, gw-allow, gw-allow-jwt), 403 (bare-403, gw-deny)"
echo "errors = responses with another status + socket errors (connect/read/write/timeout)"
echo "ratio  = requests/s / upstream requests/s at the same connection count"
echo
awk -F'\t' -v have_gw="$HAVE_GW" -v conns="$CONNS" '
  { name[NR]=$1; c[NR]=$2; rps[NR]=$3; p50[NR]=$4; p99[NR]=$5; bad[NR]=$6; sock[NR]=$7; st[NR]=$8; req[NR]=$9
    cpu[NR]=$10
    if ($1 == "upstream") base[$2] = $3 }
  END {
    fmt = "%-12s %5s %12s %9s %9s %8s %7s %8s  %s\n"
    printf fmt, "scenario", "conns", "requests/s", "p50 ms", "p99 ms", "errors", "ratio", "cpu us", "detail"
    printf fmt, "--------", "-----", "----------", "------", "------", "------", "-----", "------", "------"
    for (i = 1; i <= NR; i++) {
      e = bad[i] + sock[i]
      r = (base[c[i]] > 0) ? sprintf("%.4f", rps[i] / base[c[i]]) : "n/a"
      d = sprintf("%d requests", req[i])
      if (bad[i] > 0) d = d sprintf(", %d bad status (e.g. %s)", bad[i], st[i])
      if (sock[i] > 0) d = d sprintf(", %d socket errors", sock[i])
      printf fmt, name[i], c[i], sprintf("%.1f", rps[i]), p50[i], p99[i], e, r, cpu[i], d
    }
    if (have_gw != 1) {
      n = split(conns, cs, " ")
      for (j = 1; j <= n; j++) printf fmt, "gw-allow", cs[j], "-", "-", "-", "-", "-", "-", "SKIPPED (no gateway binary)"
      for (j = 1; j <= n; j++) printf fmt, "gw-deny",  cs[j], "-", "-", "-", "-", "-", "-", "SKIPPED (no gateway binary)"
    }
  }' "$RESULTS"
echo

# ---------------------------------------------------------------- targets
# Issue 7's targets, as ratios from this one run. A cell with errors does not
# count: the target is then n/a (its row measured something else).
echo "targets (issue 7; from this run, $(nproc) cores, see 'cpu busy before start' above):"
awk -F'\t' -v have_gw="$HAVE_GW" -v hwm_kb="${GW_HWM_KB:-}" '
  { key = $1 "@" $2; rps[key] = $3; p99[key] = $5; err[key] = $6 + $7; have[key] = 1 }
  function ok(k) { return (k in have) && err[k] == 0 && rps[k] > 0 }
  function row(what, value, target, verdict) {
    printf "%-44s %14s %12s  %s\n", what, value, target, verdict
  }
  function verdict(cond) { return cond ? "MET" : "MISSED" }
  END {
    printf "%-44s %14s %12s  %s\n", "target", "measured", "wanted", "verdict"
    printf "%-44s %14s %12s  %s\n", "------", "--------", "------", "-------"
    if (have_gw != 1) { print "n/a: no gateway binary"; exit }
    if (ok("gw-allow@32") && ok("ceiling@32")) {
      v = rps["gw-allow@32"] / rps["ceiling@32"]
      row("gw-allow@32 / ceiling@32 (requests/s)", sprintf("%.3f", v), ">= 0.8", verdict(v >= 0.8))
    } else row("gw-allow@32 / ceiling@32 (requests/s)", "n/a", ">= 0.8", "n/a (cell missing or with errors)")
    if (ok("gw-deny@32") && ok("bare-403@32")) {
      v = rps["gw-deny@32"] / rps["bare-403@32"]
      row("gw-deny@32 / bare-403@32 (requests/s)", sprintf("%.3f", v), ">= 0.8", verdict(v >= 0.8))
    } else row("gw-deny@32 / bare-403@32 (requests/s)", "n/a", ">= 0.8", "n/a (cell missing or with errors)")
    if (ok("gw-allow@1") && ok("upstream@1")) {
      v = p99["gw-allow@1"] - p99["upstream@1"]
      row("gw-allow@1 p99 - upstream@1 p99 (ms)", sprintf("%.3f", v), "<= 1.000", verdict(v <= 1.0))
    } else row("gw-allow@1 p99 - upstream@1 p99 (ms)", "n/a", "<= 1.000", "n/a (cell missing or with errors)")
    # Issue 13: the allowed path with a JWT within 10% of the same path with a static token.
    n = split("1 32", cs, " ")
    for (j = 1; j <= n; j++) {
      jwt = "gw-allow-jwt@" cs[j]; st = "gw-allow@" cs[j]
      what = sprintf("gw-allow-jwt@%s / gw-allow@%s (requests/s)", cs[j], cs[j])
      if (ok(jwt) && ok(st)) {
        v = rps[jwt] / rps[st]
        row(what, sprintf("%.3f", v), ">= 0.9", verdict(v >= 0.9))
      } else row(what, "n/a", ">= 0.9", "n/a (cell missing or with errors)")
    }
    if (hwm_kb != "" && hwm_kb > 0) {
      v = hwm_kb / 1024
      row("gateway peak RSS, whole run (VmHWM, MiB)", sprintf("%.1f", v), "< 64", verdict(v < 64))
    } else row("gateway peak RSS, whole run (VmHWM, MiB)", "n/a", "< 64", "n/a")
  }' "$RESULTS"
echo
# Issue 20: the durability bound. A release waits for two durable commits and a
# proxy hop, a denial for one commit; nothing else is forced.
echo "durability bound (issue 20; fdatasync of 512 bytes on the audit's disk: p50 ${FSYNC_P50} ms, p99 ${FSYNC_P99} ms, ${FSYNC_CPU} us of CPU each):"
awk -F'\t' -v have_gw="$HAVE_GW" -v f50="$FSYNC_P50" -v f99="$FSYNC_P99" -v fcpu="$FSYNC_CPU" '
  { key = $1 "@" $2; rps[key] = $3; p50[key] = $4; p99[key] = $5; err[key] = $6 + $7; cpu[key] = $10; batch[key] = $11
    have[key] = 1 }
  function ok(k) { return (k in have) && err[k] == 0 && rps[k] > 0 }
  function line(text, measured, bound, cond) {
    printf "%-84s measured %8s : %s\n", text, measured, cond ? "met" : "not met"
  }
  function na(text) { printf "%-84s n/a (cell missing or with errors)\n", text }
  END {
    if (have_gw != 1) { print "n/a: no gateway binary"; exit }
    if (ok("gw-allow@1") && ok("ceiling@1")) {
      b = 2 * f50 + p50["ceiling@1"] + 0.1
      line(sprintf("allowed@1 p50 <= 2 x fsync p50 + proxy p50 + 0.1 ms = 2 x %.3f + %.3f + 0.1 = %.3f ms",
                   f50, p50["ceiling@1"], b), p50["gw-allow@1"], b, p50["gw-allow@1"] <= b)
      b = 2 * f99 + 0.5
      line(sprintf("allowed@1 p99 <= 2 x fsync p99 + 0.5 ms = 2 x %.3f + 0.5 = %.3f ms", f99, b),
           p99["gw-allow@1"], b, p99["gw-allow@1"] <= b)
    } else { na("allowed@1 p50"); na("allowed@1 p99") }
    if (ok("gw-deny@1") && ok("bare-403@1")) {
      b = f50 + p50["bare-403@1"] + 0.1
      line(sprintf("denied@1 p50 <= fsync p50 + bare-403 p50 + 0.1 ms = %.3f + %.3f + 0.1 = %.3f ms",
                   f50, p50["bare-403@1"], b), p50["gw-deny@1"], b, p50["gw-deny@1"] <= b)
    } else na("denied@1 p50")
    if (ok("gw-allow@32") && ok("ceiling@32")) {
      v = rps["gw-allow@32"] / rps["ceiling@32"]
      line(sprintf("allowed@32 req/s >= 0.5 x proxy = 0.5 x %.0f = %.0f (ratio %.3f)",
                   rps["ceiling@32"], 0.5 * rps["ceiling@32"], v), sprintf("%.0f", rps["gw-allow@32"]), 0.5, v >= 0.5)
    } else na("allowed@32 req/s")
    if (ok("gw-deny@32") && ok("bare-403@32")) {
      v = rps["gw-deny@32"] / rps["bare-403@32"]
      line(sprintf("denied@32 req/s >= 0.5 x bare-403 = 0.5 x %.0f = %.0f (ratio %.3f)",
                   rps["bare-403@32"], 0.5 * rps["bare-403@32"], v), sprintf("%.0f", rps["gw-deny@32"]), 0.5, v >= 0.5)
    } else na("denied@32 req/s")
    # The same targets as CPU time per request, each server its own.
    cpu_bound("allowed@32", "gw-allow@32", "proxy", "ceiling@32")
    cpu_bound("denied@32", "gw-deny@32", "bare-403", "bare-403@32")
    # Not a bound: what the syncs alone cost per request at the batches formed.
    sync_share("allowed@32", "gw-allow@32", 2)
    sync_share("denied@32", "gw-deny@32", 1)
  }
  function sync_share(what, gw, records,   s) {
    if (!(ok(gw) && batch[gw] > 0 && fcpu > 0)) return
    s = records * fcpu / batch[gw]
    printf "  (%s: %.2f audit records per commit; at the probe'"'"'s %.1f us of CPU per sync, the syncs alone cost %.1f us per request)\n",
           what, batch[gw], fcpu, s
  }
  # cpu_bound: the gateway cell `gw` within 2 x the CPU per request of `base`.
  function cpu_bound(what, gw, base_name, base,   b) {
    if (!(ok(gw) && ok(base) && cpu[base] > 0)) { na(what " CPU per request"); return }
    b = 2 * cpu[base]
    line(sprintf("%s CPU per request <= 2 x %s = 2 x %.1f = %.1f us (ratio %.2f)",
                 what, base_name, cpu[base], b, cpu[gw] / cpu[base]), cpu[gw], b, cpu[gw] <= b)
  }' "$RESULTS"
echo
# Issue 13 from the interleaved rounds: each round's gw-allow-jwt / gw-allow at
# one connection count, and their median (a round with errors is left out).
echo "issue 13, interleaved rounds (gw-allow-jwt / gw-allow requests/s; $JWT_ROUNDS rounds, order swapped each round):"
if [[ $HAVE_GW == 1 && -s "$JWT_ROUNDS_TSV" ]]; then
  for c in $CONNS; do
    awk -F'\t' -v c="$c" '
      $2 == c { rps[$1 "," $3] = $4; if ($1 > n) n = $1 }
      END {
        k = 0; list = ""
        for (r = 1; r <= n; r++) {
          if (rps[r ",static"] > 0 && rps[r ",jwt"] > 0) {
            v[++k] = rps[r ",jwt"] / rps[r ",static"]
            list = list sprintf(" %.3f", v[k])
          }
        }
        if (k == 0) { printf "  c=%-3s n/a (no complete round)\n", c; exit }
        for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
        med = (k % 2) ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
        printf "  c=%-3s rounds:%s  median %.3f  (wanted >= 0.9): %s\n", c, list, med, ((med >= 0.9) ? "MET" : "MISSED")
      }' "$JWT_ROUNDS_TSV"
  done
else
  echo "  n/a (no gateway binary, or BENCH_JWT_ROUNDS=0)"
fi
if (( BUSY_PCT > 15 )); then
  echo "NOTE: the CPUs were ${BUSY_PCT}% busy before the start (load average above): the verdicts are not reliable,"
  echo "      the 1-connection p99 least of all. Re-run on an idle machine before drawing conclusions."
fi
echo
echo "nproc: $(nproc)"
echo "ceiling proxy: $CEILING_BIN (peak RSS $CEIL_HWM); bare-403: $BARE_BIN (peak RSS $BARE_HWM)"
if [[ $HAVE_GW == 1 ]]; then
  echo "gateway: $GW"
  echo "gateway peak RSS (VmHWM, sampled every 0.5 s over the whole run): ${GW_HWM_KB} kB  (VmRSS at end: $GW_RSS, threads: $GW_THREADS)"
  echo "audit db: $(du -h "$GWD/audit.db" 2>/dev/null | cut -f1 || echo '?') ($GWD/audit.db)"
else
  echo "gateway: not measured ('$GW' missing)"
  exit 2
fi
