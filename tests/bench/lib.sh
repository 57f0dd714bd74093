# Shared helpers for tests/bench/bench.sh and tests/bench/isolation.sh.
# Sourced, never run. The caller sets `set -euo pipefail` and SCRIPT_DIR,
# REPO_ROOT before sourcing.
# shellcheck shell=bash disable=SC2034  # variables set here are read by the caller

READY_WAIT="${READY_WAIT:-30}"   # seconds to wait for a server to become ready
PIDS=()                          # every process started here; killed on exit
WRK_PID=""                       # the foreground wrk, if any
TMP=""

die() { echo "ERROR: $*" >&2; exit 1; }

print_run_header() {
  printf 'command: bash'
  printf ' %q' "$0" "$@"
  printf '\n'
  printf 'cwd: %s\n' "$PWD"
  printf 'nproc: %s\n' "$(nproc)"
  printf 'cpu: %s\n' "$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown)"
  printf 'date: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}

# How busy the CPUs are before we start (1 s sample of /proc/stat), and the
# load average; warns above 15 %. Sets BUSY_PCT.
BUSY_PCT=0
print_cpu_busy() {
  local t0 i0 t1 i1 busy
  read -r t0 i0 < <(awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat)
  sleep 1
  read -r t1 i1 < <(awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat)
  busy=$(( (t1 - t0) > 0 ? 100 * ((t1 - t0) - (i1 - i0)) / (t1 - t0) : 0 ))
  BUSY_PCT=$busy
  printf 'cpu busy before start: %s%% (1 s sample); load average: %s\n' "$busy" "$(cut -d' ' -f1-3 /proc/loadavg)"
  if (( busy > 15 )); then
    echo "WARNING: the machine is not idle (${busy}% CPU busy before start): numbers will be low and noisy" >&2
  fi
}

# install_deps [extra apt packages...]: what both scripts need, through
# apt-get, only when missing (a fresh Debian 12 has none of it).
install_deps() {
  local need=()
  command -v wrk >/dev/null 2>&1 || need+=(wrk)
  command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || need+=(nginx-light)
  command -v python3 >/dev/null 2>&1 || need+=(python3)
  command -v curl >/dev/null 2>&1 || need+=(curl)
  command -v pgrep >/dev/null 2>&1 || need+=(procps)   # cleanup finds nginx workers with it
  command -v g++ >/dev/null 2>&1 || need+=(g++)
  command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
  [[ -e /usr/include/httplib.h ]] && pkg-config --exists cpp-httplib 2>/dev/null || need+=(libcpp-httplib-dev)
  local p
  for p in "$@"; do
    case "$p" in
      sqlite3) command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3) ;;
      *) dpkg -s "$p" >/dev/null 2>&1 || need+=("$p") ;;
    esac
  done
  if [[ ${#need[@]} -gt 0 ]]; then
    echo "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
}

# ---------------------------------------------------------------- temp dir + cleanup
bench_cleanup() {
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
  if [[ -n "$TMP" ]]; then
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
      echo "kept temp dir: $TMP"
    else
      rm -rf "$TMP"
    fi
  fi
  exit "$rc"
}

# make_tmp PREFIX: the run's temp dir, removed on exit (BENCH_KEEP=1 keeps it)
make_tmp() {
  TMP="$(mktemp -d "/tmp/$1.XXXXXX")"
  chmod 755 "$TMP"
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# stop_pid PID: TERM, up to 5 s, then KILL (a process this script started)
stop_pid() {
  local pid=$1 deadline=$((SECONDS + 5))
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# set_pinning: WRK_PIN (CPU 0) and UP_PIN (the last CPU, for the single-worker
# upstream nginx) as command prefixes, empty with one CPU, without taskset or
# with BENCH_PIN=0. On loopback the 1-connection ping-pong otherwise swings
# several-fold with where the scheduler puts things.
set_pinning() {
  WRK_PIN=()
  UP_PIN=()
  if [[ "${BENCH_PIN:-1}" == 1 && "$(nproc)" -ge 2 ]] && command -v taskset >/dev/null 2>&1; then
    WRK_PIN=(taskset -c 0)
    UP_PIN=(taskset -c "$(($(nproc) - 1))")
  fi
}

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
  local deadline=$((SECONDS + READY_WAIT)) code=""
  while (( SECONDS < deadline )); do
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$log" >&2 || true; die "$name exited during start-up"; }
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$url" || true)"
    [[ "$code" == "$want" ]] && return 0
    sleep 0.1
  done
  tail -n 30 "$log" >&2 || true
  die "$name not ready within ${READY_WAIT}s (last status '$code' from $url, wanted $want)"
}

# ---------------------------------------------------------------- helper programs
# build_helper NAME: compiles tests/bench/NAME.cc (g++ -O2, pkg-config
# cpp-httplib) into $BENCH_BIN_DIR (default <repo>/build/bench, or the temp
# dir when that is not writable), only when the binary is missing or older than
# its source; sets HELPER. Never part of the CMake build.
build_helper() {
  local name=$1 src="$SCRIPT_DIR/$1.cc" dir="${BENCH_BIN_DIR:-$REPO_ROOT/build/bench}"
  [[ -f "$src" ]] || die "missing source $src"
  if ! mkdir -p "$dir" 2>/dev/null || [[ ! -w "$dir" ]]; then dir="$TMP/bin"; mkdir -p "$dir"; fi
  HELPER="$dir/$name"
  if [[ ! -x "$HELPER" || "$src" -nt "$HELPER" || "$SCRIPT_DIR/bench_server.h" -nt "$HELPER" ]]; then
    echo "building $name ($HELPER)..."
    local cflags libs
    cflags="$(pkg-config --cflags cpp-httplib)" || die "pkg-config cannot find cpp-httplib (libcpp-httplib-dev)"
    libs="$(pkg-config --libs cpp-httplib)"
    # shellcheck disable=SC2086  # pkg-config output is a list of flags
    if ! nice -n 10 g++ -std=c++17 -O2 -Wall -Wextra -Werror $cflags "$src" -o "$HELPER.tmp" $libs -pthread \
        >"$TMP/build-$name.log" 2>&1; then
      cat "$TMP/build-$name.log" >&2
      rm -f "$HELPER.tmp"
      die "building $name from $src failed (g++ -O2 with pkg-config cpp-httplib; log above)"
    fi
    mv -f "$HELPER.tmp" "$HELPER"
  fi
}

# start_bg NAME CMD...: runs CMD in the background, output to $TMP/NAME.log;
# sets LAST_PID
start_bg() {
  local name=$1; shift
  "$@" >"$TMP/$name.log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

# ---------------------------------------------------------------- nginx upstream
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

# start_upstream_nginx PORT [command prefix...]: nginx answering the Agni
# success JSON to DELETE .../release/; sets UP_PID
start_upstream_nginx() {
  local port=$1; shift
  mkdir -p "$TMP/upstream"
  {
    nginx_common upstream
    echo "http {"
    nginx_http_common upstream
    cat <<EOF
  server {
    listen 127.0.0.1:$port;
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
  start_nginx upstream "$@"
  UP_PID=$LAST_PID
  wait_http "http://127.0.0.1:$port$SAMPLE_PATH" 200 "$UP_PID" upstream "$TMP/upstream/error.log" -X DELETE
}

# ---------------------------------------------------------------- gateway
# resolve_gateway [PATH]: sets GW (absolute) and HAVE_GW (1 when executable)
resolve_gateway() {
  if [[ $# -ge 1 && -n "$1" ]]; then
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
    HAVE_GW=0
  fi
}

# make_tokens DIR: alice (group support, allowed on +1555*) and mallory (group
# contractors, denied); writes DIR/{alice,mallory}.json and DIR/policy.json;
# sets ALICE_TOKEN and MALLORY_TOKEN
make_tokens() {
  local d=$1
  mkdir -p "$d"
  timeout 20 "$GW" token new --user alice --groups support --json >"$d/alice.json" \
    || die "'agni-gateway token new' failed for alice"
  timeout 20 "$GW" token new --user mallory --groups contractors --json >"$d/mallory.json" \
    || die "'agni-gateway token new' failed for mallory"
  cat >"$d/policy.json" <<'EOF'
{"rules":[{"id":"support-sandbox","effect":"allow","groups":["support"],"numbers":["+1555*"]},{"id":"no-contractors","effect":"deny","groups":["contractors"]}]}
EOF
  read -r ALICE_TOKEN MALLORY_TOKEN < <(python3 - "$d" <<'EOF'
import json, sys
d = sys.argv[1]
print(json.load(open(f"{d}/alice.json"))["token"], json.load(open(f"{d}/mallory.json"))["token"])
EOF
  ) || true
  [[ -n "$ALICE_TOKEN" && -n "$MALLORY_TOKEN" ]] || die "could not read tokens from 'token new --json'"
}

# write_gateway_config DIR PORT ADMIN_PORT UPSTREAM_PORT [EXTRA_JSON] -> DIR/config.json
# (users and policy from make_tokens DIR; EXTRA_JSON is merged into the
# config, one level deep: {"server": {...}} adds to "server")
write_gateway_config() {
  python3 - "$@" <<'EOF'
import json, sys
d, port, admin, up = sys.argv[1:5]
extra = json.loads(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[5] else {}
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
for key, value in extra.items():
    if isinstance(value, dict) and isinstance(cfg.get(key), dict):
        cfg[key].update(value)
    else:
        cfg[key] = value
with open(f"{d}/config.json", "w") as f:
    json.dump(cfg, f, indent=2)
EOF
}

# cpu_ticks PID: user + system CPU of PID and its child processes (nginx's
# workers), in clock ticks
cpu_ticks() {
  local pid total=0 t
  for pid in "$1" $(pgrep -P "$1" || true); do
    t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
    total=$((total + t))
  done
  echo "$total"
}

# cpu_us_per_request TICKS REQUESTS: CPU clock ticks spread over REQUESTS, in
# microseconds per request with one decimal (0.0 when nothing was answered)
cpu_us_per_request() {
  awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v n="$2" \
    'BEGIN { printf "%.1f", (n > 0 ? t * 1e6 / hz / n : 0) }'
}

# start_gateway DIR: serves DIR/config.json (AGNI_API_KEY must be set), waits
# for `healthcheck`; sets GW_PID. Log: DIR/gateway.log
start_gateway() {
  local d=$1 deadline
  "$GW" serve --config "$d/config.json" >"$d/gateway.log" 2>&1 &
  GW_PID=$!
  PIDS+=("$GW_PID")
  deadline=$((SECONDS + READY_WAIT))
  until timeout 5 "$GW" healthcheck --config "$d/config.json" >/dev/null 2>&1; do
    kill -0 "$GW_PID" 2>/dev/null || { tail -n 30 "$d/gateway.log" >&2 || true; die "gateway exited during start-up"; }
    (( SECONDS < deadline )) || { tail -n 30 "$d/gateway.log" >&2 || true; die "gateway not ready within ${READY_WAIT}s"; }
    sleep 0.2
  done
}

# ---------------------------------------------------------------- memory
# start_rss_sampler PID FILE: appends "VmHWM_kB VmRSS_kB" of PID every 0.5 s
# while it lives (so a process that dies still leaves its last peak)
start_rss_sampler() {
  local pid=$1 file=$2
  (
    while [[ -r "/proc/$pid/status" ]]; do
      awk '/^VmHWM/{h=$2} /^VmRSS/{r=$2} END{if (h != "") print h, r}' "/proc/$pid/status" 2>/dev/null || true
      sleep 0.5
    done
  ) >>"$file" &
  PIDS+=("$!")
}

# peak_kb PID FILE: the largest VmHWM seen (the sampler's and, if the process
# is alive, its current one), in kB
peak_kb() {
  local pid=$1 file=$2 now=0
  if [[ -r "/proc/$pid/status" ]]; then
    now="$(awk '/^VmHWM/{print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)"
  fi
  { echo "${now:-0}"; awk '{print $1}' "$file" 2>/dev/null; } | sort -n | tail -n1
}

# field NAME "BENCH line": one key=value of release.lua's BENCH line
field() {
  sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"
}
