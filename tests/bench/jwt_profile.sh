#!/usr/bin/env bash
# Instructions per allowed release, static token vs JWT, counted by callgrind
# (issue 13's figure without the wall clock, which swings several-fold on a
# shared machine). Run by hand, never a test:
#
#   bash tests/bench/jwt_profile.sh [path/to/agni-gateway] [REQUESTS]
#
# Starts nginx as the upstream and the gateway under valgrind's callgrind
# (8 threads; a JWT from tests/bench/jwt_token.py, keys from a jwks_file, as
# in bench.sh), warms both paths up, then sends REQUESTS (default 200)
# releases one after another with alice's static token, dumps the counters,
# and the same number with the JWT. Prints instructions per request for each
# and their ratio. Needs valgrind (installed here if missing). Everything on
# 127.0.0.1, in a temp dir; every process started here is killed on exit.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$SCRIPT_DIR/lib.sh"

N="${2:-200}"
resolve_gateway "${1:-}"
[[ $HAVE_GW == 1 ]] || die "gateway binary '$GW' not found or not executable"
install_deps valgrind
print_run_header "$@"

make_tmp agni-jwt-profile
read -r UP_PORT GW_PORT GW_ADMIN_PORT <<<"$(free_ports 3)"
start_upstream_nginx "$UP_PORT"
export AGNI_API_KEY="${AGNI_API_KEY:-bench-key}"
GWD="$TMP/gateway"
make_tokens "$GWD"
ISSUER="https://login.bench.invalid/realms/corp"
JWT_TOKEN="$(python3 "$SCRIPT_DIR/jwt_token.py" "$GWD" "$ISSUER")"
write_gateway_config "$GWD" "$GW_PORT" "$GW_ADMIN_PORT" "$UP_PORT" \
  "{\"server\": {\"threads\": 8}, \"groups\": [\"support\", \"contractors\"], \"identity\": {\"oidc\": [{\"name\": \"bench\", \"issuer\": \"$ISSUER\", \"audiences\": [\"agni-gateway\"], \"algorithms\": [\"RS256\"], \"jwks_file\": \"$GWD/jwks.json\"}]}}"

valgrind --tool=callgrind --callgrind-out-file="$TMP/callgrind.out" \
  "$GW" serve --config "$GWD/config.json" >"$GWD/gateway.log" 2>&1 &
VG_PID=$!
PIDS+=("$VG_PID")
for _ in $(seq 600); do
  timeout 20 "$GW" healthcheck --config "$GWD/config.json" >/dev/null 2>&1 && break
  kill -0 "$VG_PID" 2>/dev/null || { tail -n 30 "$GWD/gateway.log" >&2; die "gateway exited"; }
  sleep 0.5
done

# send TOKEN COUNT: COUNT releases on one keep-alive connection, each 200.
send() {
  python3 - "$GW_PORT" "$1" "$2" <<'PY'
import http.client, sys
port, token, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
for i in range(n):
    c.request("DELETE", "/api/v1/phone-numbers/%%2B1555%07d/release/" % (i % 1000),
              headers={"Authorization": "Bearer " + token})
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"release {i} answered {r.status}")
PY
}
send "$ALICE_TOKEN" 30
send "$JWT_TOKEN" 30
callgrind_control -z "$VG_PID" >/dev/null 2>&1
send "$ALICE_TOKEN" "$N"
callgrind_control -d static "$VG_PID" >/dev/null 2>&1
callgrind_control -z "$VG_PID" >/dev/null 2>&1
send "$JWT_TOKEN" "$N"
callgrind_control -d jwt "$VG_PID" >/dev/null 2>&1
sleep 1
# The request threads' own instructions: the audit's background verifier
# runs on its own timer and lands in either interval by chance.
per_request() {
  callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
    awk -v n="$N" '/WorkerPool::WorkerLoop/ && !seen { gsub(",", "", $1); print int($1 / n); seen = 1 }'
}
static_ir="$(per_request "$TMP/callgrind.out.1")"
jwt_ir="$(per_request "$TMP/callgrind.out.2")"
printf 'requests per token: %s\n' "$N"
printf 'instructions per release on the request threads: static token %s, JWT %s, ratio %s\n' \
  "$static_ir" "$jwt_ir" "$(awk -v a="$jwt_ir" -v b="$static_ir" 'BEGIN { printf "%.3f", a / b }')"
