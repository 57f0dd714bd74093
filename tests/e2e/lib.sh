# Shared by the shell tests in tests/e2e and by deploy/demo/run.sh (source
# it): the binary and a work dir, checks and their counters, stopping a
# process, free ports, reading JSON, and starting `agni-gateway serve` until
# its healthcheck passes.
# shellcheck shell=bash disable=SC2016,SC2034 # node -e programs are single-quoted; the variables are for the scripts that source this

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
passed=0
failed=0
gw_pid=""

# e2e_setup NAME "$@": BIN, the absolute path of the only argument (exit 2
# with the usage line unless it is an executable), and work, a fresh folder.
e2e_setup() {
  local name="$1"
  shift
  if [[ $# -ne 1 || ! -x "${1:-}" ]]; then
    echo "usage: $0 PATH/TO/agni-gateway" >&2
    exit 2
  fi
  BIN="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
  work="$(mktemp -d "${TMPDIR:-/tmp}/agni-$name.XXXXXX")"
}

# check NAME COMMAND...: passes when COMMAND succeeds; counts and says so.
check() {
  local name="$1"
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "ok   - $name"
  else
    failed=$((failed + 1))
    echo "FAIL - $name"
  fi
}

# report PREFIX: the summary line; fails when a check failed.
report() {
  echo "${1:+$1: }$passed passed, $failed failed"
  ((failed == 0))
}

contains() { grep -qF -- "$2" <<<"$1"; } # contains TEXT NEEDLE

stop_pid() { # stop_pid PID: TERM, up to 5 s, then KILL
  local pid="$1" i
  [[ -n "$pid" ]] || return 0
  kill "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

free_port() {
  node -e '
    const s = require("net").createServer();
    s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# json_get FILE KEY[.KEY...]: the value at that path of the JSON in FILE
# (strings raw, anything else as JSON); exit 1 when the file is not JSON or
# the path is missing.
json_get() {
  node -e '
    const fs = require("fs");
    let v;
    try { v = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch (e) { process.exit(1); }
    for (const k of process.argv[2].split(".")) {
      if (v === null || typeof v !== "object" || !(k in v)) process.exit(1);
      v = v[k];
    }
    console.log(typeof v === "string" ? v : JSON.stringify(v));' "$1" "$2"
}

# listening_ports LOG: waits up to 10 s for serve's start-up line in LOG and
# sets port and admin to the ports it names (empty when it never came).
listening_ports() {
  local _
  for _ in $(seq 200); do
    grep -q '"message":"agni-gateway listening"' "$1" && break
    sleep 0.05
  done
  port="$(sed -nE 's/.*"listen":"127\.0\.0\.1:([0-9]+)".*/\1/p' "$1" | head -1)"
  admin="$(sed -nE 's/.*"admin_listen":"127\.0\.0\.1:([0-9]+)".*/\1/p' "$1" | head -1)"
}

# write_gateway_config OUT GW_PORT ADMIN_PORT UPSTREAM_PORT USER_JSON...: the
# one gateway.json the shell tests and the demo use, written to OUT: the
# listeners on loopback, a plain-http loopback upstream, audit.db and
# policy.json next to OUT, auditors "compliance", and the users of the
# `token new --json` files.
write_gateway_config() {
  node -e '
    const fs = require("fs");
    const [out, gw, admin, up, ...users] = process.argv.slice(1);
    const cfg = {
      listen: `127.0.0.1:${gw}`,
      admin_listen: `127.0.0.1:${admin}`,
      upstream: { base_url: `http://127.0.0.1:${up}`, allow_plain_http: true,
                  connect_timeout: "3s", read_timeout: "30s" },
      audit: { path: "audit.db" },
      users: users.map(f => JSON.parse(fs.readFileSync(f, "utf8")).user),
      auditors: ["compliance"],
      policy_file: "policy.json",
    };
    fs.writeFileSync(out, JSON.stringify(cfg, null, 2) + "\n");' "$@"
}

# serve_until_healthy CONFIG LOG WRITE_CONFIG: `$BIN serve --config CONFIG`, output
# appended to LOG, on fresh free ports (gw_port, admin_port) that
# `WRITE_CONFIG GW_PORT ADMIN_PORT` writes into CONFIG; up to three attempts
# of 30 s until `healthcheck` passes. Sets gw_pid; returns 1 when it never
# became ready. A watchdog stops the gateway when this script dies, even by
# SIGKILL (a ctest timeout).
serve_until_healthy() {
  local config="$1" log="$2" write="$3" attempt deadline
  for attempt in 1 2 3; do
    gw_port="$(free_port)"
    admin_port="$(free_port)"
    "$write" "$gw_port" "$admin_port"
    "$BIN" serve --config "$config" </dev/null >>"$log" 2>&1 &
    gw_pid=$!
    (
      while kill -0 $$ 2>/dev/null && kill -0 "$gw_pid" 2>/dev/null; do sleep 1; done
      kill "$gw_pid" 2>/dev/null || true
    ) </dev/null >/dev/null 2>&1 &
    deadline=$((SECONDS + 30))
    while ((SECONDS < deadline)); do
      kill -0 "$gw_pid" 2>/dev/null || break
      if timeout 5 "$BIN" healthcheck --config "$config" >/dev/null 2>&1; then
        return 0
      fi
      sleep 0.2
    done
    echo "the gateway did not become ready (attempt $attempt/3); last log lines:" >&2
    tail -n 20 "$log" >&2 || true
    stop_pid "$gw_pid"
    wait "$gw_pid" 2>/dev/null || true
    gw_pid=""
  done
  return 1
}
