#!/usr/bin/env bash
# `agni-gateway policy explain --groups` and `policy test` cases with
# "groups": decisions for people who exist only at the identity provider (not
# in users[]), on the office-hours example with an identity.oidc issuer added.
# A group the config does not declare, --groups for a configured user, or
# --groups without identity.oidc is a clear error (exit 2).
#
# Usage: bash tests/e2e/policy_groups_test.sh PATH/TO/agni-gateway   (any cwd)
set -euo pipefail

# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup policy-groups "$@"
trap 'rm -rf "$work"' EXIT

plain="$REPO/policies/examples/office-hours"
cp "$plain"/*.json "$work/"
python3 "$REPO/tests/bench/jwt_token.py" "$work" https://login.example.com >/dev/null
python3 - "$work/gateway.json" "$work/jwks.json" <<'PY'
import json, sys
path, jwks = sys.argv[1], sys.argv[2]
cfg = json.load(open(path))
cfg["groups"] = ["support", "telecom-ops", "release-admins"]
cfg["identity"] = {"oidc": [{"issuer": "https://login.example.com",
                             "audiences": ["agni-gateway"],
                             "jwks_file": jwks}]}
json.dump(cfg, open(path, "w"), indent=2)
PY
cfg="$work/gateway.json"
out="$("$BIN" check-config --config "$cfg")"
check "the config with an issuer is valid" contains "$out" "OK"

# run CMD...: its stdout+stderr in $out, its exit code in $rc.
run() {
  set +e
  out="$("$@" 2>&1)"
  rc=$?
  set -e
}

run "$BIN" policy explain --config "$cfg" --user dana@example.com \
  --groups telecom-ops --phone +14155550100 --at 2026-11-25T17:00:00Z --from 192.0.2.10
check "explain --groups: exit 0" test "$rc" -eq 0
check "explain --groups: the token's group decides" contains "$out" '"rule_id": "ops-prod-office-hours"'
check "explain --groups: the provider's name is the user" contains "$out" 'dana@example.com'
run "$BIN" policy explain --config "$cfg" --user dana@example.com \
  --groups release-admins,support --phone +15555550123
check "explain: a declared group without static members counts" contains "$out" '"rule_id": "support-test-anytime"'
run "$BIN" policy explain --config "$cfg" --user dana@example.com \
  --groups '' --phone +15555550123
check "explain: a person in no group" contains "$out" '"rule_id": "implicit_deny"'

run "$BIN" policy explain --config "$cfg" --user dana@example.com \
  --groups okta-telecom-ops --phone +14155550100
check "explain: an undeclared group exits 2" test "$rc" -eq 2
check "explain: and names it and the declared ones" contains "$out" \
  'group "okta-telecom-ops" is not declared in the config (declared: compliance, release-admins, sales, support, telecom-ops)'
run "$BIN" policy explain --config "$cfg" --user alice --groups telecom-ops --phone +14155550100
check "explain: --groups for a configured user exits 2" test "$rc" -eq 2
check "explain: and says why" contains "$out" '"alice" is a configured user'
run "$BIN" policy explain --config "$cfg" --user dana@example.com --phone +14155550100
check "explain: a provider person without --groups exits 2" test "$rc" -eq 2
check "explain: and says to give the groups" contains "$out" 'give their groups'
run "$BIN" policy explain --config "$plain/gateway.json" --user dana@example.com \
  --groups telecom-ops --phone +14155550100
check "explain: --groups without identity.oidc exits 2" test "$rc" -eq 2
check "explain: and says so" contains "$out" 'the config has no identity.oidc'

cat >"$work/cases.json" <<'JSON'
{"cases": [
  {"name": "ops at the provider, office hours", "user": "dana@example.com",
   "groups": ["telecom-ops"], "number": "+14155550100",
   "time": "2026-11-25T17:00:00Z", "source": "192.0.2.10",
   "expect": "allow", "rule": "ops-prod-office-hours"},
  {"name": "support at the provider", "user": "erin@example.com",
   "groups": ["support"], "number": "+15555550123", "expect": "allow",
   "rule": "support-test-anytime"},
  {"name": "no groups", "user": "erin@example.com", "groups": [],
   "number": "+15555550123", "expect": "deny"},
  {"name": "a static user as before", "user": "alice",
   "number": "+15555550123", "expect": "allow"}
]}
JSON
run "$BIN" policy test --config "$cfg" "$work/cases.json"
check "policy test with groups: exit 0" test "$rc" -eq 0
check "policy test with groups: all pass" contains "$out" "4 cases, 4 passed, 0 failed"

cat >"$work/bad.json" <<'JSON'
[{"user": "dana@example.com", "groups": ["nope"], "number": "+15555550123", "expect": "deny"},
 {"user": "dana@example.com", "groups": "support", "number": "+15555550123", "expect": "deny"},
 {"user": "alice", "groups": ["support"], "number": "+15555550123", "expect": "allow"}]
JSON
run "$BIN" policy test --config "$cfg" "$work/bad.json"
check "policy test: bad groups exit 2" test "$rc" -eq 2
check "policy test: an undeclared group is named" contains "$out" \
  'error: case 1: "groups": group "nope" is not declared in the config'
check "policy test: groups must be an array" contains "$out" \
  'error: case 2: "groups" must be an array of group names'
check "policy test: groups for a configured user" contains "$out" \
  'error: case 3: "alice" is a configured user'

run "$BIN" policy explain --help
check "explain --help documents --groups" contains "$out" "--groups"
run "$BIN" policy test --help
check "test --help documents groups" contains "$out" "identity provider"

report ""
