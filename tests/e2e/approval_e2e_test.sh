#!/usr/bin/env bash
# End-to-end approval workflow with the real binary over HTTP:
#   check-config refuses an unmeetable requirement -> serve -> alice's DELETE
#   gets 202 + Location -> olga and oscar approve -> alice re-sends it with
#   X-Approval-Id -> 200 -> a second execution is 409 approval_used -> the
#   upstream stand-in received exactly one DELETE, with the vendor key -> the
#   audit log tells the whole story in order -> the metrics count it.
#
# The upstream stand-in is a few lines of Node (already required for Prism):
# it answers every request with the Agni success envelope and appends one JSON
# line per request (method, url, headers) to upstream.log.
#
# Usage: bash tests/e2e/approval_e2e_test.sh PATH/TO/agni-gateway   (any cwd)
#   AGNI_E2E_KEEP=1 keeps the work dir. Exit 0 pass, 1 a check failed, 2 setup.
# shellcheck disable=SC2016 # the node -e programs are single-quoted on purpose
set -euo pipefail

# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup approval-e2e "$@"
up_pid=""

cleanup() {
  local rc=$?
  set +e
  trap '' INT TERM HUP PIPE
  stop_pid "$gw_pid"
  stop_pid "$up_pid"
  if ((rc != 0)) || ((failed > 0)); then
    for f in gateway.log upstream.log; do
      [[ -f "$work/$f" ]] && { echo "----- $f -----"; tail -n 40 "$work/$f"; }
    done
  fi
  if [[ "${AGNI_E2E_KEEP:-0}" == 1 ]]; then echo "e2e: kept $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

setup_fail() { echo "approval-e2e: SETUP ERROR: $*" >&2; exit 2; }

command -v node >/dev/null || setup_fail "node is required (deploy/install-deps.sh)"
command -v sqlite3 >/dev/null || setup_fail "sqlite3 is required (deploy/install-deps.sh)"

# --- the upstream stand-in -----------------------------------------------------
node -e '
  const http = require("http"), fs = require("fs");
  const [log, portFile] = process.argv.slice(1);
  const s = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      fs.appendFileSync(log, JSON.stringify({method: req.method, url: req.url, headers: req.headers}) + "\n");
      res.writeHead(200, {"Content-Type": "application/json"});
      res.end(JSON.stringify({success: true, message: "Phone number released",
        data: {phone_number: "+14155550100", status: "released", released_at: "2026-01-01T00:00:00Z"}}));
    });
  });
  s.listen(0, "127.0.0.1", () => fs.writeFileSync(portFile, String(s.address().port)));
' "$work/upstream.log" "$work/upstream.port" &
up_pid=$!
for ((i = 0; i < 100; i++)); do [[ -s "$work/upstream.port" ]] && break; sleep 0.1; done
[[ -s "$work/upstream.port" ]] || setup_fail "upstream stand-in did not start"
up_port="$(cat "$work/upstream.port")"
touch "$work/upstream.log"

# --- users, policy, config -------------------------------------------------------
for u in alice:support olga:telecom-ops oscar:telecom-ops; do
  "$BIN" token new --user "${u%%:*}" --groups "${u#*:}" --json >"$work/${u%%:*}.json" ||
    setup_fail "token new failed"
done
alice="$(json_get "$work/alice.json" token)"
olga="$(json_get "$work/olga.json" token)"
oscar="$(json_get "$work/oscar.json" token)"

write_policy() { # write_policy N
  cat >"$work/policy.json" <<EOF
{ "rules": [
  { "id": "never-release-emergency", "effect": "deny", "numbers": ["+1911*"] },
  { "id": "prod-needs-two", "effect": "require_approval", "groups": ["support"],
    "numbers": ["+1415*"],
    "approval": { "approvals": $1, "from_groups": ["telecom-ops"],
                  "ttl": "24h", "execute_within": "1h" } } ] }
EOF
}
write_config() { # write_config GW_PORT ADMIN_PORT
  write_gateway_config "$work/config.json" "$1" "$2" "$up_port" \
    "$work/alice.json" "$work/olga.json" "$work/oscar.json"
}
export AGNI_API_KEY="e2e-vendor-key-$RANDOM$RANDOM"

write_config 0 0
write_policy 3
rc=0
out="$("$BIN" check-config --config "$work/config.json" 2>&1)" || rc=$?
unmeetable() { [[ $rc -eq 1 && "$out" == *'rules[1].approval.approvals'* && "$out" == *'only 2 configured user(s)'* ]]; }
check "check-config rejects 3 approvals from a group of 2 (rc=$rc: ${out//$'\n'/ | })" unmeetable
write_policy 2
out="$("$BIN" check-config --config "$work/config.json" 2>&1)" || true
check "check-config accepts 2 approvals from a group of 2 ($out)" test "$out" = OK

# --- serve --------------------------------------------------------------------------
serve_until_healthy "$work/config.json" "$work/gateway.log" write_config ||
  setup_fail "gateway did not become ready"
GW="http://127.0.0.1:$gw_port"
REL="$GW/api/v1/phone-numbers/+14155550100/release/"

status=""
req() { # req NAME CURL_ARGS... -> $status; body in $work/NAME.body, headers in NAME.hdr
  local name="$1"
  shift
  status="$(curl -sS --max-time 20 -o "$work/$name.body" -D "$work/$name.hdr" -w '%{http_code}' "$@")" || status=000
}

# --- the story ------------------------------------------------------------------
req request -X DELETE -H "Authorization: Bearer $alice" "$REL"
check "the DELETE needing approval is 202 (got $status)" test "$status" = 202
id="$(json_get "$work/request.body" approval.id)" || id=""
location="$(tr -d '\r' <"$work/request.hdr" | sed -n 's/^[Ll]ocation: //p')"
check "Location names the approval ($location)" test -n "$id" -a "$location" = "/v1/approvals/$id"
req again -X DELETE -H "Authorization: Bearer $alice" "$REL"
check "repeating it returns the same approval" test "$(json_get "$work/again.body" approval.id)" = "$id"
check "eligible_approvers lists olga and oscar" \
  test "$(json_get "$work/request.body" approval.eligible_approvers)" = '["olga","oscar"]'

req self -X POST -H "Authorization: Bearer $alice" "$GW/v1/approvals/$id/approve"
check "the requester cannot approve (got $status $(json_get "$work/self.body" reason))" \
  test "$status" = 403 -a "$(json_get "$work/self.body" reason)" = self_approval
req a1 -X POST -H "Authorization: Bearer $olga" -H 'Content-Type: application/json' \
  --data '{"reason":"ticket OPS-42"}' "$GW/v1/approvals/$id/approve"
check "olga approves (got $status, still $(json_get "$work/a1.body" status))" \
  test "$status" = 200 -a "$(json_get "$work/a1.body" status)" = pending
req a2 -X POST -H "Authorization: Bearer $oscar" "$GW/v1/approvals/$id/approve"
check "oscar approves (got $status, now $(json_get "$work/a2.body" status))" \
  test "$status" = 200 -a "$(json_get "$work/a2.body" status)" = approved

req exec -X DELETE -H "Authorization: Bearer $alice" -H "X-Approval-Id: $id" "$REL"
check "the execution is forwarded (got $status)" test "$status" = 200
req exec2 -X DELETE -H "Authorization: Bearer $alice" -H "X-Approval-Id: $id" "$REL"
check "a second execution is 409 approval_used (got $status)" \
  test "$status" = 409 -a "$(json_get "$work/exec2.body" reason)" = approval_used

deletes="$(grep -c '"method":"DELETE"' "$work/upstream.log" || true)"
check "the upstream received exactly one DELETE ($deletes)" test "$deletes" = 1
key_ok() {
  node -e '
    const l = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
    const h = l[0].headers;
    process.exit(l.length === 1 && h["x-api-key"] === process.argv[2] && !h.authorization &&
                 !h["x-approval-id"] && l[0].url === "/api/v1/phone-numbers/%2B14155550100/release/" ? 0 : 1);' \
    "$work/upstream.log" "$AGNI_API_KEY"
}
check "it carried the vendor key and no client credential" key_ok

story="$(sqlite3 "$work/audit.db" "SELECT stage || ':' || coalesce(outcome, reason, '') || ':' ||
  coalesce(principal, '') FROM audit_records WHERE approval_id = '$id' ORDER BY seq" | tr '\n' ' ')"
want="approval:created:alice decision:approval_required:alice decision:approval_required:alice \
decision:self_approval:alice approval:approved:olga approval:approved:oscar \
intent::alice approval:executed:alice outcome:released:alice decision:approval_used:alice "
check "the audit log tells the story in order: $story" test "$story" = "$want"
reason="$(sqlite3 "$work/audit.db" "SELECT detail FROM audit_records WHERE approval_id = '$id' AND principal = 'olga'")"
check "olga's reason is in the audit ($reason)" test "$reason" = "ticket OPS-42"
chain_ok="$(sqlite3 "$work/audit.db" "SELECT COUNT(*) FROM audit_records a JOIN audit_records b ON b.seq = a.seq + 1 WHERE b.prev_hash != a.hash")"
check "the hash chain links every record" test "$chain_ok" = 0

metrics="$(curl -sS "http://127.0.0.1:$admin_port/metrics")"
check "approvals_total counts the executed event" grep -q '^agni_gateway_approvals_total{event="executed"} 1$' <<<"$metrics"
check "approvals_total counts both approvals" grep -q '^agni_gateway_approvals_total{event="approved"} 2$' <<<"$metrics"
check "approvals_pending is back to 0" grep -q '^agni_gateway_approvals_pending 0$' <<<"$metrics"

report approval-e2e || exit 1
