#!/usr/bin/env bash
# `agni-gateway policy explain|test` as a policy author uses them on the
# shipped examples: a passing table exits 0, a wrong expectation exits 1 and
# names the case, a malformed table exits 2, explain prints the decision and
# the failing selector of every rule.
#
# Usage: bash tests/e2e/policy_cli_test.sh PATH/TO/agni-gateway   (any cwd)
set -euo pipefail

# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup policy-cli "$@"
EX="$REPO/policies/examples"
trap 'rm -rf "$work"' EXIT

for ex in "$EX"/*/; do
  out="$("$BIN" check-config --config "$ex/gateway.json")"
  check "check-config accepts example $(basename "$ex")" contains "$out" "OK"
done

cfg="$EX/office-hours/gateway.json"
sed 's/"expect": "allow", "rule": "support-test-anytime"/"expect": "deny", "rule": "support-test-anytime"/' \
  "$EX/office-hours/cases.json" >"$work/wrong.json"
set +e
out="$("$BIN" policy test --config "$cfg" "$work/wrong.json" 2>&1)"
rc=$?
set -e
check "policy test exits 1 on a mismatch" test "$rc" -eq 1
check "policy test names the failing case and what it got" contains "$out" \
  'FAIL case 10 (support, test numbers, any time): alice +15555550123: expected deny (rule support-test-anytime), got allow (rule support-test-anytime)'
check "policy test summarises" contains "$out" "12 cases, 11 passed, 1 failed"

echo '{"cases": [{"user": "alice", "number": "+15555550123", "expect": "maybe"},
                 {"user": "nobody", "number": "+15555550123", "expect": "allow"},
                 {"user": "alice", "number": "+15555550123", "expect": "allow", "when": "x"}]}' \
  >"$work/malformed.json"
set +e
out="$("$BIN" policy test --config "$cfg" "$work/malformed.json" 2>&1)"
rc=$?
set -e
check "policy test exits 2 on malformed cases" test "$rc" -eq 2
check "policy test reports a bad expectation" contains "$out" '"expect" must be "allow" or "deny"'
check "policy test reports an unknown user" contains "$out" 'no user named "nobody"'
check "policy test reports an unknown key" contains "$out" 'unknown key "when"'

out="$("$BIN" policy explain --config "$cfg" --user olga --phone +14155550100 \
  --at 2026-11-25T17:00:00Z --from 192.0.2.10)"
check "explain: allow by the office-hours rule" contains "$out" '"rule_id": "ops-prod-office-hours"'
check "explain: every rule is listed" test "$(grep -c '"id":' <<<"$out")" -eq 4
out="$("$BIN" policy explain --config "$cfg" --user olga --phone +14155550100 \
  --at 2026-11-28T20:00:00Z)"
check "explain: the weekend deny decides" contains "$out" '"rule_id": "no-prod-on-weekends"'
check "explain: a weekend is outside the weekday window" contains "$out" '"failed": "when"'
out="$("$BIN" policy explain --config "$cfg" --user olga --phone +14155550100 \
  --at 2026-11-25T17:00:00Z)"
check "explain: without --from the allow cannot match" contains "$out" '"rule_id": "implicit_deny"'
check "explain: names the failed condition" contains "$out" '"failed": "source_cidrs"'
check "explain: says why" contains "$out" '"detail": "the client address is unknown"'
set +e
"$BIN" policy explain --config "$cfg" --user olga --phone 12345 >/dev/null 2>"$work/err"
rc=$?
set -e
check "explain: a malformed number exits 2" test "$rc" -eq 2
check "explain: and says why" contains "$(cat "$work/err")" "E.164"

report ""
