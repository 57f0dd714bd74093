#!/usr/bin/env bash
# The built binary as an operator meets it: check-config, serve refusing bad
# config or key settings, token new, healthcheck, version, and a clean stop on
# SIGTERM and SIGINT that keeps every committed audit record.
#
# Usage: bash tests/e2e/cli_test.sh PATH/TO/agni-gateway   (any cwd)
# Exit 0 when every check passes, 1 otherwise. Needs curl and sqlite3.
set -euo pipefail

# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup cli "$@"
trap '[[ -n "$gw_pid" ]] && kill -9 "$gw_pid" 2>/dev/null; rm -rf "$work"' EXIT

cd "$work"
unset AGNI_API_KEY AGNI_API_KEY_FILE

# --- token new -----------------------------------------------------------
alice_json="$("$BIN" token new --user alice --groups support --json)"
alice_token="$(sed -E 's/.*"token":"([^"]+)".*/\1/' <<<"$alice_json")"
alice_entry="$(sed -E 's/.*"user":(\{[^}]*\}).*/\1/' <<<"$alice_json")"
check "token new prints an agt_ token of 256 bits" \
  bash -c '[[ "$1" =~ ^agt_[A-Za-z0-9_-]{43}$ ]]' _ "$alice_token"
check "token new's config entry holds the token's SHA-256, not the token" \
  bash -c 'h=$(printf %s "$1" | sha256sum | cut -d" " -f1); [[ "$2" == *"$h"* && "$2" != *"$1"* ]]' \
  _ "$alice_token" "$alice_entry"
second="$("$BIN" token new --user alice --json)"
check "two tokens differ" bash -c '[[ "$1" != "$2" ]]' _ "$alice_json" "$second"
plain="$("$BIN" token new --user bob)"
check "token new explains where the entry goes" contains "$plain" '"users"'
check "token new rejects a bad user name" \
  bash -c '! "$1" token new --user "bad name" 2>/dev/null' _ "$BIN"

# --- check-config --------------------------------------------------------
cat >policy.json <<'JSON'
{"rules":[{"id":"support-sandbox","effect":"allow","groups":["support"],"numbers":["+1555*"]}]}
JSON
cat >gateway.json <<JSON
{
  "listen": "127.0.0.1:0",
  "admin_listen": "127.0.0.1:0",
  "upstream": {"base_url": "http://127.0.0.1:9", "allow_plain_http": true,
               "connect_timeout": "1s", "read_timeout": "2s"},
  "audit": {"path": "audit.db"},
  "users": [$alice_entry],
  "policy_file": "policy.json"
}
JSON
out="$("$BIN" check-config --config gateway.json)"
check "check-config prints OK for a valid config" [ "$out" = "OK" ]

cat >bad.json <<JSON
{
  "listen": "localhost",
  "admin_listen": "127.0.0.1:99999",
  "colour": "blue",
  "upstream": {"base_url": "http://api.ravan.ai", "read_timeout": "5 minutes"},
  "audit": {"path": "audit.db"},
  "users": [$alice_entry, $alice_entry,
            {"name": "bob", "token_sha256": "ABC"}],
  "policy_file": "missing-policy.json"
}
JSON
set +e
out="$("$BIN" check-config --config bad.json)"
rc=$?
set -e
check "check-config exits 1 on errors" [ "$rc" -eq 1 ]
for expected in '$.listen' '$.admin_listen' '$.colour: unknown key' \
  '$.upstream.base_url' '$.upstream.read_timeout' '$.users[1].name: duplicate user' \
  '$.users[1].token_sha256' '$.users[2].token_sha256: must be 64 lowercase hex' \
  '$.policy_file: cannot read file'; do
  check "check-config names $expected" contains "$out" "$expected"
done
check "check-config lists all errors at once" contains "$out" "9 errors in the configuration"

# The shipped example config stays valid (its audit path and TLS files
# pointed here).
mkdir example
cp "$REPO"/deploy/examples/*.json example/
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj /CN=localhost -keyout example/tls.key -out example/tls.crt 2>/dev/null
sed -i -e 's|/var/lib/agni-gateway/audit.db|audit.db|' \
  -e 's|/etc/agni-gateway/tls/|./|' example/gateway.json
check "deploy/examples passes check-config" \
  [ "$("$BIN" check-config --config example/gateway.json)" = "OK" ]
# The chat example's channel URLs are secret files next to it.
echo "https://hooks.slack.com/services/T000/B000/example" >example/slack-webhook.url
echo "https://example.webhook.office.com/webhookb2/example" >example/teams-webhook.url
sed -i -e 's|/var/lib/agni-gateway/audit.db|audit.db|' \
  -e 's|/etc/agni-gateway/tls/|./|' example/gateway-chat.json
check "deploy/examples/gateway-chat.json (break-glass and chat channels) passes check-config" \
  [ "$("$BIN" check-config --config example/gateway-chat.json)" = "OK" ]

# A main listener other hosts can reach in plain HTTP: still valid (exit 0,
# OK), with a warning on stderr naming the key; loopback gets none.
sed 's|"listen": "127.0.0.1:0"|"listen": "0.0.0.0:0"|' gateway.json >exposed.json
out="$("$BIN" check-config --config exposed.json 2>exposed.err)" && rc=0 || rc=$?
check "check-config: a plain-HTTP 0.0.0.0 listener is still OK (exit 0)" \
  bash -c '[ "$1" -eq 0 ] && [ "$2" = OK ]' _ "$rc" "$out"
check "check-config warns on stderr about the plain-HTTP listener, naming listen" \
  contains "$(cat exposed.err)" "warning: listen: 0.0.0.0:0 is reachable from other hosts"
"$BIN" check-config --config gateway.json >/dev/null 2>loopback.err
check "check-config: no warning for a loopback listener" [ ! -s loopback.err ]

# --- serve refuses bad settings ------------------------------------------
set +e
AGNI_API_KEY=k "$BIN" serve --config bad.json >/dev/null 2>serve.err
rc=$?
set -e
check "serve refuses an invalid config (exit 1)" [ "$rc" -eq 1 ]
check "serve says which key is wrong" contains "$(cat serve.err)" '$.colour: unknown key'

printf 'file-key\n' >key.txt
set +e
AGNI_API_KEY=k AGNI_API_KEY_FILE=key.txt "$BIN" serve --config gateway.json >/dev/null 2>serve.err
rc=$?
set -e
check "serve refuses both AGNI_API_KEY and AGNI_API_KEY_FILE" \
  bash -c '[ "$1" -eq 1 ] && grep -q "set exactly one" "$2"' _ "$rc" serve.err
set +e
"$BIN" serve --config gateway.json >/dev/null 2>serve.err
rc=$?
set -e
check "serve refuses to start without a key" \
  bash -c '[ "$1" -eq 1 ] && grep -q "no upstream API key" "$2"' _ "$rc" serve.err

# --- serve, healthcheck, clean stop ---------------------------------------
start_gateway() { # sets gw_pid, port, admin
  : >serve.log
  AGNI_API_KEY_FILE="$work/key.txt" "$BIN" serve --config gateway.json 2>serve.log &
  gw_pid=$!
  listening_ports serve.log
}

for sig in TERM INT; do
  rm -f audit.db audit.db-wal audit.db-shm
  start_gateway
  check "serve starts and logs its ports (SIG$sig round)" \
    bash -c '[ -n "$1" ] && [ -n "$2" ]' _ "$port" "$admin"
  check "healthcheck --url reports healthy" \
    bash -c '[ "$("$1" healthcheck --url "http://127.0.0.1:$2")" = healthy ]' _ "$BIN" "$admin"
  for i in 1 2 3; do
    curl -s -o /dev/null -X DELETE -H "Authorization: Bearer $alice_token" \
      "http://127.0.0.1:$port/api/v1/phone-numbers/%2B1911555000$i/release/"
  done
  kill -"$sig" "$gw_pid"
  set +e
  wait "$gw_pid"
  rc=$?
  set -e
  gw_pid=""
  check "SIG$sig stops the gateway with exit 0" [ "$rc" -eq 0 ]
  check "SIG$sig: every answered request is in the audit" \
    [ "$(sqlite3 audit.db 'select count(*) from audit_records where reason="policy_denied"')" = 3 ]
  check "SIG$sig: the log never holds the key or the token" \
    bash -c '! grep -qe file-key -e "$1" serve.log' _ "$alice_token"
done
check "healthcheck fails when nothing listens" \
  bash -c '! "$1" healthcheck --url "http://127.0.0.1:$2" 2>/dev/null' _ "$BIN" "$admin"

# --- version and help -------------------------------------------------------
check "version prints the version" contains "$("$BIN" version)" "agni-gateway "
check "--help lists the subcommands" \
  bash -c 'h=$("$1" --help); for s in serve check-config token healthcheck version; do grep -q "$s" <<<"$h" || exit 1; done' _ "$BIN"

report ""
