#!/usr/bin/env bash
# End-to-end contract test: agni-gateway in front of a Prism mock of the vendor
# Agni API (deploy/mock/agni-release.openapi.yaml, served with --errors).
#
# Usage: bash tests/e2e/contract_test.sh PATH/TO/agni-gateway     (any cwd)
#   CMake: add_test(NAME e2e_contract COMMAND bash
#            ${CMAKE_SOURCE_DIR}/tests/e2e/contract_test.sh $<TARGET_FILE:agni-gateway>)
#   AGNI_E2E_KEEP=1 keeps the work dir (config, logs, audit.db) for inspection.
#
# Why a 200 proves the contract: Prism in mock mode answers a request that
# violates the spec with a 4xx problem+json (401 without the X-Api-Key security
# header, 404/405 for a wrong path or method, 415 for a request body, 422 for a
# missing path parameter, 406 for a non-JSON Accept; see deploy/mock/start.sh).
# Only a conforming DELETE gets the 200 JSON body. Prism runs with -v debug so
# its log also shows the headers the gateway forwarded; the test checks the
# vendor key went upstream and the client's own token did not.
#
# Exit 0 when every check passes, 1 when one fails, 2 on a setup error.
# shellcheck disable=SC2016 # the node -e programs are single-quoted on purpose
set -euo pipefail

# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup e2e "$@"
mock_pid=""

cleanup() {
  local rc=$?
  # Finish cleaning up (bounded: ~10 s at most) whatever signal comes next.
  set +e
  trap '' INT TERM HUP PIPE
  stop_pid "$gw_pid"
  [[ -n "$gw_pid" ]] && wait "$gw_pid" 2>/dev/null
  stop_pid "$mock_pid"
  if ((rc != 0)) || ((failed > 0)); then
    for f in gateway.log prism.log; do
      [[ -f "$work/$f" ]] || continue
      echo "----- last lines of $f -----"
      tail -n 40 "$work/$f"
    done
  fi
  if [[ "${AGNI_E2E_KEEP:-0}" == 1 ]]; then
    echo "e2e: work dir kept: $work"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

setup_fail() {
  echo "e2e: SETUP ERROR: $*" >&2
  exit 2
}

has_key() { json_get "$1" "$2" >/dev/null; } # has_key FILE KEY
starts_with() { [[ "$1" == "$2"* ]]; }        # starts_with STRING PREFIX
absent() { ! grep "$@"; }                      # absent GREP_ARGS... (prints hits)

# --- 1. Prism --------------------------------------------------------------
echo "e2e: work dir $work"
echo "e2e: binary $BIN ($("$BIN" version 2>&1 | head -n 1 || true))"
# npm ci when Prism's node_modules is missing or stale (a no-op otherwise).
"$REPO/deploy/mock/install.sh" || setup_fail "deploy/mock/install.sh failed"
# AGNI_MOCK_WATCH_PID: the mock dies with this script even if it is SIGKILLed.
out="$(AGNI_MOCK_WATCH_PID=$$ AGNI_MOCK_LOG_LEVEL=debug \
  "$REPO/deploy/mock/start.sh" 0 "$work/prism.log")" || setup_fail "Prism did not start"
read -r mock_pid mock_port <<<"$out"
echo "e2e: Prism pid $mock_pid on 127.0.0.1:$mock_port"

# Prism's log is written through an in-process stream: give it a moment to
# land before reading it after a request.
mock_requests() {
  sleep 0.2
  grep -c 'Request received' "$work/prism.log" || true
}

# --- 2. users, policy, config ---------------------------------------------
new_token() { # new_token NAME GROUPS -> writes $work/NAME.json
  "$BIN" token new --user "$1" --groups "$2" --json >"$work/$1.json" ||
    setup_fail "token new --user $1 failed"
}
new_token alice support
new_token bob sales
alice_token="$(json_get "$work/alice.json" token)" || setup_fail "no token in alice.json"
bob_token="$(json_get "$work/bob.json" token)" || setup_fail "no token in bob.json"
check "token new --json prints an agt_ token" test "${alice_token#agt_}" != "$alice_token"

cat >"$work/policy.json" <<'EOF'
{
  "rules": [
    { "id": "never-release-emergency", "effect": "deny", "numbers": ["+1911*"] },
    { "id": "support-sandbox", "effect": "allow", "groups": ["support"], "numbers": ["+1555*"] }
  ]
}
EOF

vendor_key="e2e-vendor-key-$RANDOM$RANDOM"
export AGNI_API_KEY="$vendor_key"
unset AGNI_API_KEY_FILE

write_config() { # write_config GW_PORT ADMIN_PORT
  write_gateway_config "$work/config.json" "$1" "$2" "$mock_port" \
    "$work/alice.json" "$work/bob.json"
}

# --- 3. check-config (relative paths resolve against the config's folder,
#        so run it from elsewhere) ------------------------------------------
cd /
write_config "$(free_port)" "$(free_port)"
cc_rc=0
cc_out="$(timeout 30 "$BIN" check-config --config "$work/config.json" 2>&1)" || cc_rc=$?
check "check-config prints OK and exits 0 (rc=$cc_rc, output: ${cc_out//$'\n'/ | })" \
  test "$cc_rc" -eq 0 -a "$(echo "$cc_out" | tr -d '[:space:]')" = OK

node -e '
  const fs = require("fs");
  const c = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  c.upstream.bogus_key = 1;
  fs.writeFileSync(process.argv[2], JSON.stringify(c));' "$work/config.json" "$work/bad-config.json"
bad_rc=0
bad_out="$(timeout 30 "$BIN" check-config --config "$work/bad-config.json" 2>&1)" || bad_rc=$?
rejects_unknown_key() { [[ $bad_rc -eq 1 && "$bad_out" == *bogus_key* ]]; }
check "check-config rejects an unknown key with exit 1 and names it (rc=$bad_rc, output: ${bad_out//$'\n'/ | })" \
  rejects_unknown_key

# --- 4. the gateway ---------------------------------------------------------
serve_until_healthy "$work/config.json" "$work/gateway.log" write_config ||
  setup_fail "gateway did not become ready (healthcheck)"
echo "e2e: gateway pid $gw_pid on 127.0.0.1:$gw_port (admin 127.0.0.1:$admin_port)"
check "healthcheck exits 0 once the gateway is up" true

GW="http://127.0.0.1:$gw_port"
status="" ctype=""
req() { # req NAME CURL_ARGS... -> $status, $ctype, body in $work/NAME.body
  local name="$1" w
  shift
  w="$(curl -sS --max-time 20 -o "$work/$name.body" -w '%{http_code} %{content_type}' "$@")" ||
    w="000 none"
  status="${w%% *}"
  ctype="${w#* }"
  echo "   $name: HTTP $status ($ctype) $(head -c 300 "$work/$name.body" 2>/dev/null)"
}
path() { echo "$GW/api/v1/phone-numbers/$1/release/"; }

# --- 5. allowed release -----------------------------------------------------
before="$(mock_requests)"
req allowed -X DELETE -H "Authorization: Bearer $alice_token" "$(path %2B15555550100)"
check "allowed release (Bearer, support-sandbox) returns 200" test "$status" = 200
check "allowed release is application/json" starts_with "$ctype" application/json
check "the mock's JSON body is passed through (success field present)" \
  has_key "$work/allowed.body" success
check "the mock's body is passed through unchanged (data.phone_number from Prism)" \
  grep -q '"phone_number":"string"' "$work/allowed.body"
check "the allowed release reached the mock exactly once" \
  test "$(mock_requests)" -eq $((before + 1))
check "Prism got the number percent-encoded (delete .../%2B15555550100/release/)" \
  grep -q 'delete /api/v1/phone-numbers/%2B15555550100/release/ .*Request received' "$work/prism.log"
check "Prism validated the forwarded request (no violation, X-Api-Key scheme met)" \
  grep -q 'The request passed the validation rules' "$work/prism.log"
check "Prism logged no error or violation" \
  absent -E "✖|Violation|Request terminated with error" "$work/prism.log"
check "the vendor key (AGNI_API_KEY) was sent upstream as X-Api-Key" \
  grep -qF "x-api-key: $vendor_key" "$work/prism.log"

before="$(mock_requests)"
req allowed_xapikey -X DELETE -H "X-Api-Key: $alice_token" "$(path %2B15555550101)"
check "allowed release authenticated with X-Api-Key returns 200" test "$status" = 200
check "...and reached the mock" test "$(mock_requests)" -eq $((before + 1))
check "Prism still logged no error or violation" \
  absent -E "✖|Violation|Request terminated with error" "$work/prism.log"
check "the client's gateway tokens never reached the mock" \
  absent -qF -e "$alice_token" -e "${alice_token#agt_}" "$work/prism.log"
check "no Authorization header was forwarded to the mock" \
  absent -i "authorization:" "$work/prism.log"

before="$(mock_requests)"
req prefer -X DELETE -H "Authorization: Bearer $alice_token" -H "Prefer: code=500" \
  "$(path %2B15555550102)"
check "a client's Prefer header (Prism's answer selector) is not forwarded: still 200" \
  test "$status" = 200
check "...reached the mock without a prefer header" \
  test "$(mock_requests)" -eq $((before + 1)) -a "$(grep -ci '< .prefer:' "$work/prism.log")" -eq 0

# --- 6. denied: explicit deny rule, implicit deny ---------------------------
before="$(mock_requests)"
req denied -X DELETE -H "Authorization: Bearer $alice_token" "$(path %2B19115550100)"
check "denied release (+1911*) returns 403" test "$status" = 403
check "denied release is application/problem+json" \
  starts_with "$ctype" application/problem+json
check "denied release: reason policy_denied" \
  test "$(json_get "$work/denied.body" reason)" = policy_denied
check "denied release: rule_id names never-release-emergency" \
  test "$(json_get "$work/denied.body" rule_id)" = never-release-emergency
check "denied release: status 403 and success false in the body" \
  test "$(json_get "$work/denied.body" status)/$(json_get "$work/denied.body" success)" = 403/false
check "denied release: request_id present" has_key "$work/denied.body" request_id

req implicit -X DELETE -H "Authorization: Bearer $bob_token" "$(path %2B15555550100)"
check "no matching allow rule returns 403 policy_denied with rule_id implicit_deny" \
  test "$status/$(json_get "$work/implicit.body" reason)/$(json_get "$work/implicit.body" rule_id)" \
  = 403/policy_denied/implicit_deny
check "denied releases never reached the mock" test "$(mock_requests)" -eq "$before"

# --- 7. unauthenticated -----------------------------------------------------
before="$(mock_requests)"
req unauth -X DELETE "$(path %2B15555550100)"
check "no credentials returns 401" test "$status" = 401
check "401 is application/problem+json" starts_with "$ctype" application/problem+json
check "401 has reason unauthenticated" test "$(json_get "$work/unauth.body" reason)" = unauthenticated
req badtoken -X DELETE -H "Authorization: Bearer agt_not-a-real-token" "$(path %2B15555550100)"
check "an unknown token returns 401 unauthenticated" \
  test "$status/$(json_get "$work/badtoken.body" reason)" = 401/unauthenticated
check "unauthenticated requests never reached the mock" test "$(mock_requests)" -eq "$before"

# --- 8. invalid phone number --------------------------------------------------
before="$(mock_requests)"
req invalid -X DELETE -H "Authorization: Bearer $alice_token" "$(path not-a-number)"
check "a non-E.164 number returns 400 invalid_phone_number" \
  test "$status/$(json_get "$work/invalid.body" reason)" = 400/invalid_phone_number
check "the invalid request never reached the mock" test "$(mock_requests)" -eq "$before"

# --- 9. admin listener and audit ----------------------------------------------
check "admin /livez returns 200" \
  test "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin_port/livez")" = 200
check "admin /metrics returns 200" \
  test "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin_port/metrics")" = 200
check "audit.db was created next to the config (relative path)" test -s "$work/audit.db"

echo "e2e: Prism saw $(mock_requests) request(s) in total (expected 3)"
check "the mock saw exactly the 3 allowed releases" test "$(mock_requests)" -eq 3

report ""
