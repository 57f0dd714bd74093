#!/usr/bin/env bash
# Benchmark of agni-gateway's guarded call, run by hand (never a timed test):
#
#   bash tests/bench/bench.sh [path/to/agni-gateway]
#
# Measures, side by side in one run, at 1 and 32 connections:
#   upstream      nginx answering the vendor call directly (the ceiling)
#   nginx-proxy   nginx as a plain reverse proxy (keepalive) in front of it
#   gw-allow      the gateway, allowed release (policy allow + durable audit)
#   gw-deny       the gateway, authenticated user denied by policy (audited 403)
# Everything runs on 127.0.0.1, on free ports, in a temp dir; every process
# started here is killed on exit. See tests/bench/README.md.
#
# Environment knobs (optional):
#   BENCH_DURATION=5s   wrk duration per measured cell
#   BENCH_WARMUP=1s     wrk warm-up per scenario (0 to skip; not reported)
#   BENCH_CONNS="1 32"  connection counts to measure
#   BENCH_PIN=0         don't pin wrk to CPU 0 and the upstream nginx to the
#                       last CPU (pinned by default on >= 2 cores)
#   BENCH_KEEP=1        keep the temp dir (configs, logs, audit db) on exit
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
LUA="$SCRIPT_DIR/release.lua"

DURATION="${BENCH_DURATION:-5s}"
WARMUP="${BENCH_WARMUP:-1s}"
CONNS="${BENCH_CONNS:-1 32}"
WRK_TIMEOUT="10s"      # per-request timeout inside wrk
READY_WAIT=30          # seconds to wait for a server to become ready

printf 'command: bash'
printf ' %q' "$0" "$@"
printf '\n'
printf 'cwd: %s\n' "$PWD"
printf 'nproc: %s\n' "$(nproc)"
printf 'cpu: %s\n' "$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown)"
printf 'date: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
printf 'duration per cell: %s, warm-up per scenario: %s, connections: %s\n' "$DURATION" "$WARMUP" "$CONNS"
# wrk pinned to CPU 0 and the (single-worker) upstream nginx to the last CPU;
# the nginx proxy and the gateway are not pinned. On loopback the 1-connection
# ping-pong otherwise swings several-fold with where the scheduler puts things.
WRK_PIN=()
UP_PIN=()
if [[ "${BENCH_PIN:-1}" == 1 && "$(nproc)" -ge 2 ]] && command -v taskset >/dev/null 2>&1; then
  WRK_PIN=(taskset -c 0)
  UP_PIN=(taskset -c "$(( $(nproc) - 1 ))")
fi
printf 'pinning: wrk=%s upstream-nginx=%s (nginx-proxy, gateway: unpinned)\n' "${WRK_PIN[*]:-none}" "${UP_PIN[*]:-none}"
# how busy the CPUs are before we start (1 s sample of /proc/stat)
cpu_ticks() { awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat; }
read -r t0 i0 < <(cpu_ticks); sleep 1; read -r t1 i1 < <(cpu_ticks)
busy_pct=$(( (t1 - t0) > 0 ? 100 * ((t1 - t0) - (i1 - i0)) / (t1 - t0) : 0 ))
printf 'cpu busy before start: %s%% (1 s sample)\n' "$busy_pct"
if (( busy_pct > 15 )); then
  echo "WARNING: the machine is not idle (${busy_pct}% CPU busy before start): numbers will be low and noisy" >&2
fi

# ---------------------------------------------------------------- gateway path
if [[ $# -ge 1 ]]; then
  GW="$1"
  if [[ "$GW" != /* && ! -e "$GW" && -e "$REPO_ROOT/$GW" ]]; then
    GW="$REPO_ROOT/$GW"
  fi
else
  GW="$REPO_ROOT/build/agni-gateway"
fi
if [[ -x "$GW" ]]; then
  GW="$(cd "$(dirname "$GW")" && pwd)/$(basename "$GW")"
  HAVE_GW=1
else
  echo "WARNING: gateway binary '$GW' not found or not executable: gateway cells will be skipped" >&2
  HAVE_GW=0
fi

# ---------------------------------------------------------------- dependencies
need_pkgs=()
command -v wrk >/dev/null 2>&1 || need_pkgs+=(wrk)
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || need_pkgs+=(nginx-light)
command -v python3 >/dev/null 2>&1 || need_pkgs+=(python3)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
if [[ ${#need_pkgs[@]} -gt 0 ]]; then
  echo "installing: ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
printf 'wrk: %s\n' "$(wrk -v 2>&1 | head -n1 | awk '{print $1, $2}')"
printf 'nginx: %s\n' "$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"

# ---------------------------------------------------------------- temp dir + cleanup
TMP="$(mktemp -d /tmp/agni-bench.XXXXXX)"
chmod 755 "$TMP"
PIDS=()
WRK_PID=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local pid kids=()
  if [[ -n "${WRK_PID:-}" ]]; then kill -TERM "$WRK_PID" 2>/dev/null || true; fi
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      # children (nginx workers) by parent pid, so they go even if the master
      # has to be SIGKILLed
      while read -r c; do [[ -n "$c" ]] && kids+=("$c"); done < <(pgrep -P "$pid" 2>/dev/null || true)
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  local deadline=$((SECONDS + 5))
  for pid in "${PIDS[@]}"; do
    while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  for pid in "${kids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
    echo "kept temp dir: $TMP"
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() { echo "ERROR: $*" >&2; exit 1; }

# N distinct free loopback ports (all bound at once, so no duplicates)
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
EOF
}

# wait_http URL EXPECTED_STATUS PID NAME LOG [curl args...]
wait_http() {
  local url=$1 want=$2 pid=$3 name=$4 log=$5; shift 5
  local deadline=$((SECONDS + READY_WAIT)) code
  while (( SECONDS < deadline )); do
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$log" >&2 || true; die "$name exited during start-up"; }
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$url" || true)"
    [[ "$code" == "$want" ]] && return 0
    sleep 0.1
  done
  tail -n 30 "$log" >&2 || true
  die "$name not ready within ${READY_WAIT}s (last status '$code' from $url, wanted $want)"
}

read -r UP_PORT PROXY_PORT GW_PORT GW_ADMIN_PORT <<<"$(free_ports 4)"

SUCCESS_JSON='{"success":true,"message":"Phone number released","data":{"phone_number":"+15550000001","status":"released","released_at":"2026-01-01T00:00:00Z"}}'
SAMPLE_PATH='/api/v1/phone-numbers/%2B15550000001/release/'

# common nginx header: own prefix, pid, logs and temp paths, 1 worker
nginx_common() { # $1 = name ($TMP/$1 must exist)
  local d="$TMP/$1"
  cat <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
EOF
}
nginx_http_common() { # $1 = name
  local d="$TMP/$1"
  cat <<EOF
  access_log off;
  client_body_temp_path $d/client_body;
  proxy_temp_path $d/proxy;
  fastcgi_temp_path $d/fastcgi;
  uwsgi_temp_path $d/uwsgi;
  scgi_temp_path $d/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
EOF
}

start_nginx() { # $1 = name, then an optional command prefix (taskset ...); sets LAST_PID
  local d="$TMP/$1"; shift
  "$NGINX" -t -q -p "$d/" -e "$d/error.log" -c "$d/nginx.conf" 2>"$d/configtest.log" \
    || { cat "$d/configtest.log" >&2; die "nginx config '$1' invalid"; }
  "$@" "$NGINX" -p "$d/" -e "$d/error.log" -c "$d/nginx.conf" >"$d/stdout.log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

# ---------------------------------------------------------------- upstream nginx
mkdir -p "$TMP/upstream" "$TMP/proxy"
{
  nginx_common upstream
  echo "http {"
  nginx_http_common upstream
  cat <<EOF
  server {
    listen 127.0.0.1:$UP_PORT;
    location ~ ^/api/v1/phone-numbers/[^/]+/release/\$ {
      if (\$request_method != DELETE) { return 405; }
      default_type application/json;
      return 200 '$SUCCESS_JSON';
    }
    location / {
      default_type application/json;
      return 404 '{"success":false,"message":"Not found"}';
    }
  }
}
EOF
} >"$TMP/upstream/nginx.conf"
start_nginx upstream "${UP_PIN[@]}"
UP_PID=$LAST_PID
wait_http "http://127.0.0.1:$UP_PORT$SAMPLE_PATH" 200 "$UP_PID" upstream "$TMP/upstream/error.log" -X DELETE

# ---------------------------------------------------------------- nginx reverse proxy
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

# ---------------------------------------------------------------- gateway
GW_PID=""
ALICE_TOKEN=""
MALLORY_TOKEN=""
if [[ $HAVE_GW == 1 ]]; then
  export AGNI_API_KEY="${AGNI_API_KEY:-bench-key}"
  GWD="$TMP/gateway"
  mkdir -p "$GWD"
  timeout 20 "$GW" token new --user alice --groups support --json >"$GWD/alice.json" \
    || die "'agni-gateway token new' failed for alice"
  timeout 20 "$GW" token new --user mallory --groups contractors --json >"$GWD/mallory.json" \
    || die "'agni-gateway token new' failed for mallory"
  cat >"$GWD/policy.json" <<'EOF'
{"rules":[{"id":"support-sandbox","effect":"allow","groups":["support"],"numbers":["+1555*"]},{"id":"no-contractors","effect":"deny","groups":["contractors"]}]}
EOF
  # build config.json from the two `token new` outputs; print the tokens
  read -r ALICE_TOKEN MALLORY_TOKEN < <(python3 - "$GWD" "$GW_PORT" "$GW_ADMIN_PORT" "$UP_PORT" <<'EOF'
import json, sys
d, port, admin, up = sys.argv[1:5]
alice = json.load(open(f"{d}/alice.json"))
mallory = json.load(open(f"{d}/mallory.json"))
cfg = {
    "listen": f"127.0.0.1:{port}",
    "admin_listen": f"127.0.0.1:{admin}",
    "upstream": {"base_url": f"http://127.0.0.1:{up}", "allow_plain_http": True,
                 "connect_timeout": "3s", "read_timeout": "30s"},
    "server": {"threads": 64},
    "audit": {"path": "audit.db"},
    "users": [alice["user"], mallory["user"]],
    "auditors": ["compliance"],
    "policy_file": "policy.json",
}
with open(f"{d}/config.json", "w") as f:
    json.dump(cfg, f, indent=2)
print(alice["token"], mallory["token"])
EOF
  ) || true
  [[ -n "$ALICE_TOKEN" && -n "$MALLORY_TOKEN" ]] || die "could not read tokens from 'token new --json'"
  "$GW" serve --config "$GWD/config.json" >"$GWD/gateway.log" 2>&1 &
  GW_PID=$!
  PIDS+=("$GW_PID")
  deadline=$((SECONDS + READY_WAIT))
  until timeout 5 "$GW" healthcheck --config "$GWD/config.json" >/dev/null 2>&1; do
    kill -0 "$GW_PID" 2>/dev/null || { tail -n 30 "$GWD/gateway.log" >&2 || true; die "gateway exited during start-up"; }
    (( SECONDS < deadline )) || { tail -n 30 "$GWD/gateway.log" >&2 || true; die "gateway not ready within ${READY_WAIT}s"; }
    sleep 0.2
  done
  # sanity: one allowed release (200) and one denied (403) before measuring
  code="$(curl -s -o "$GWD/allow.out" -w '%{http_code}' --max-time 10 -X DELETE \
    -H "Authorization: Bearer $ALICE_TOKEN" "http://127.0.0.1:$GW_PORT/api/v1/phone-numbers/%2B15559999990/release/")"
  [[ "$code" == 200 ]] || { cat "$GWD/allow.out" >&2; tail -n 30 "$GWD/gateway.log" >&2; die "gateway allowed path answered $code, expected 200"; }
  code="$(curl -s -o "$GWD/deny.out" -w '%{http_code}' --max-time 10 -X DELETE \
    -H "Authorization: Bearer $MALLORY_TOKEN" "http://127.0.0.1:$GW_PORT/api/v1/phone-numbers/%2B15559999991/release/")"
  [[ "$code" == 403 ]] || { cat "$GWD/deny.out" >&2; tail -n 30 "$GWD/gateway.log" >&2; die "gateway deny path answered $code, expected 403"; }
fi

echo "temp dir: $TMP"
echo "ports: upstream=$UP_PORT nginx-proxy=$PROXY_PORT gateway=$GW_PORT gateway-admin=$GW_ADMIN_PORT"
echo

# ---------------------------------------------------------------- measuring
RESULTS="$TMP/results.tsv"
: >"$RESULTS"
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

field() { # field NAME "BENCH line"
  sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"
}

measure() { # measure SCENARIO URL EXPECTED TOKEN
  local name=$1 url=$2 want=$3 token=$4 c line
  if [[ "$WARMUP" != 0 && "$WARMUP" != 0s ]]; then
    run_wrk 32 "$WARMUP" "$url" "$want" "$token"
  fi
  for c in $CONNS; do
    run_wrk "$c" "$DURATION" "$url" "$want" "$token"
    line=$LINE
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$c" \
      "$(field rps "$line")" "$(field p50_ms "$line")" "$(field p99_ms "$line")" \
      "$(field bad_status "$line")" "$(field sock_errors "$line")" \
      "$(field sample_status "$line")" "$(field requests "$line")" >>"$RESULTS"
    printf '  %-12s c=%-3s %s\n' "$name" "$c" "${line#BENCH }"
  done
}

echo "running (wrk -d $DURATION per cell; threads: 1 for 1 connection, 2 otherwise)..."
measure upstream    "http://127.0.0.1:$UP_PORT"    200 none
measure nginx-proxy "http://127.0.0.1:$PROXY_PORT" 200 none
if [[ $HAVE_GW == 1 ]]; then
  measure gw-allow "http://127.0.0.1:$GW_PORT" 200 "$ALICE_TOKEN"
  measure gw-deny  "http://127.0.0.1:$GW_PORT" 403 "$MALLORY_TOKEN"
  kill -0 "$GW_PID" 2>/dev/null || { tail -n 30 "$GWD/gateway.log" >&2 || true; die "gateway died during the run"; }
  GW_HWM="$(awk '/^VmHWM/{print $2, $3}' "/proc/$GW_PID/status")"
  GW_RSS="$(awk '/^VmRSS/{print $2, $3}' "/proc/$GW_PID/status")"
  GW_THREADS="$(awk '/^Threads/{print $2}' "/proc/$GW_PID/status")"
fi
echo

# ---------------------------------------------------------------- table
echo "expected status: 200 (upstream, nginx-proxy, gw-allow), 403 (gw-deny)"
echo "errors = responses with another status + socket errors (connect/read/write/timeout)"
echo "ratio  = requests/s / upstream requests/s at the same connection count"
echo
awk -F'\t' -v have_gw="$HAVE_GW" -v conns="$CONNS" '
  { name[NR]=$1; c[NR]=$2; rps[NR]=$3; p50[NR]=$4; p99[NR]=$5; bad[NR]=$6; sock[NR]=$7; st[NR]=$8; req[NR]=$9
    if ($1 == "upstream") base[$2] = $3 }
  END {
    fmt = "%-12s %5s %12s %9s %9s %8s %7s  %s\n"
    printf fmt, "scenario", "conns", "requests/s", "p50 ms", "p99 ms", "errors", "ratio", "detail"
    printf fmt, "--------", "-----", "----------", "------", "------", "------", "-----", "------"
    for (i = 1; i <= NR; i++) {
      e = bad[i] + sock[i]
      r = (base[c[i]] > 0) ? sprintf("%.4f", rps[i] / base[c[i]]) : "n/a"
      d = sprintf("%d requests", req[i])
      if (bad[i] > 0) d = d sprintf(", %d bad status (e.g. %s)", bad[i], st[i])
      if (sock[i] > 0) d = d sprintf(", %d socket errors", sock[i])
      printf fmt, name[i], c[i], sprintf("%.1f", rps[i]), p50[i], p99[i], e, r, d
    }
    if (have_gw != 1) {
      n = split(conns, cs, " ")
      for (j = 1; j <= n; j++) printf fmt, "gw-allow", cs[j], "-", "-", "-", "-", "-", "SKIPPED (no gateway binary)"
      for (j = 1; j <= n; j++) printf fmt, "gw-deny",  cs[j], "-", "-", "-", "-", "-", "SKIPPED (no gateway binary)"
    }
  }' "$RESULTS"
echo
echo "nproc: $(nproc)"
if [[ $HAVE_GW == 1 ]]; then
  echo "gateway: $GW"
  echo "gateway peak RSS (VmHWM): $GW_HWM  (VmRSS at end: $GW_RSS, threads: $GW_THREADS)"
  echo "audit db: $(du -h "$GWD/audit.db" 2>/dev/null | cut -f1 || echo '?') ($GWD/audit.db)"
else
  echo "gateway: not measured ('$GW' missing)"
  exit 2
fi
