#!/usr/bin/env bash
# Audit growth and throughput of the rejected (401) path under a flood of
# bad-token requests, run by hand (never a timed test):
#
#   bash tests/flood/measure.sh BINARY [summarised|individual] [SECONDS] [CONNECTIONS]
#
# `summarised` runs the default audit.rejections settings; `individual` sets
# burst and max_individual so high that every 401 gets a record of its own,
# which is what the gateway did before the rejection ledger. Prints the
# requests wrk sent, requests/s, audit rows and bytes (db + wal) and the
# bytes per 100k and per 1M rejected requests at that rate. Uses ports
# 18480/18481 on loopback; installs wrk, curl, jq, sqlite3 when missing.
set -euo pipefail

# What a fresh Debian 12 machine lacks for this script.
need=()
for tool in wrk curl jq sqlite3; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if (( ${#need[@]} > 0 )); then
  echo "installing: ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
bin=$(readlink -f "${1:?usage: measure.sh BINARY [summarised|individual] [SECONDS] [CONNECTIONS]}")
mode=${2:-summarised}
seconds=${3:-20}
conns=${4:-32}
work=$(mktemp -d /tmp/agni-flood-XXXXXX)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

token=agt_measure-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
hash=$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)
head -c 32 /dev/urandom > "$work/fingerprint.key"
case "$mode" in
  summarised) rejections='{}' ;;
  individual) rejections='{"burst": 1000000, "max_individual": 10000000}' ;;
  *) echo "mode must be summarised or individual" >&2; exit 2 ;;
esac
cat > "$work/gateway.json" <<EOF
{ "listen": "127.0.0.1:18480", "admin_listen": "127.0.0.1:18481",
  "upstream": { "base_url": "http://127.0.0.1:9", "allow_plain_http": true },
  "server": { "threads": 64 },
  "audit": { "path": "audit.db", "fingerprint_key_file": "fingerprint.key",
             "rejections": $rejections },
  "users": [ { "name": "alice", "groups": ["support"], "token_sha256": "$hash" } ],
  "policy_file": "policy.json" }
EOF
echo '{"rules":[{"id":"all","effect":"allow","groups":["support"]}]}' > "$work/policy.json"
AGNI_API_KEY=measure-key "$bin" serve --config "$work/gateway.json" 2> "$work/log" &
pid=$!
for _ in $(seq 200); do
  grep -q '"agni-gateway listening"' "$work/log" 2>/dev/null && break
  sleep 0.1
done
grep -q '"agni-gateway listening"' "$work/log" || { echo "the gateway did not start:" >&2; cat "$work/log" >&2; exit 1; }
url=http://127.0.0.1:18480/api/v1/phone-numbers/%2B15551234567/release/
rows_before=$(sqlite3 "$work/audit.db" 'SELECT count(*) FROM audit_records')
wrk -t 2 -c "$conns" -d "${seconds}s" -H "Authorization: Bearer not-a-valid-token" \
  "$url" > "$work/wrk.txt"
# A legitimate request right after the flood (the upstream is absent here, so
# 502 upstream_unreachable proves it passed auth, policy and the audit).
legit=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $token" "$url")
bytes_running=$(( $(stat -c %s "$work/audit.db") + $(stat -c %s "$work/audit.db-wal" 2>/dev/null || echo 0) ))
metrics=$(curl -s http://127.0.0.1:18481/metrics)
sent=$(awk '/^agni_gateway_requests_total\{code="401",route="release"\}/ {print $2}' <<<"$metrics")
summarised=$(awk '/^agni_gateway_audit_rejections_summarized_total\{reason="unauthenticated"\}/ {print $2}' <<<"$metrics")
rss_kb=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
kill -TERM "$pid"; wait "$pid" || true
bytes_stopped=$(( $(stat -c %s "$work/audit.db") + $(stat -c %s "$work/audit.db-wal" 2>/dev/null || echo 0) ))
read -r rows individual counted summaries < <(sqlite3 -separator ' ' "$work/audit.db" \
  "SELECT (SELECT count(*) FROM audit_records) - $rows_before,
          (SELECT count(*) FROM audit_records WHERE reason='unauthenticated' AND request_count IS NULL),
          (SELECT coalesce(sum(request_count),0) FROM audit_records WHERE reason='unauthenticated'),
          (SELECT count(*) FROM audit_records WHERE request_count IS NOT NULL)")
verify=$("$bin" audit verify --db "$work/audit.db" 2>&1 | head -3 | tr '\n' ' ')
rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
sent=${sent%.*}
echo "mode=$mode seconds=$seconds connections=$conns load_before=$(cut -d' ' -f1-3 /proc/loadavg) cores=$(nproc)"
echo "wrk: $(grep -E 'requests in' "$work/wrk.txt" | sed 's/^ *//') ; requests/s $rps"
echo "401s counted by requests_total: $sent ; summarised (metric): ${summarised%.*}"
echo "legitimate request after the flood: HTTP $legit"
echo "audit rows added: $rows ; individual 401 records: $individual ; summaries: $summaries ; requests in summaries: $counted"
echo "accounted: $(( individual + counted )) of $sent"
echo "audit bytes (db+wal) while running: $bytes_running ; after stop: $bytes_stopped"
echo "bytes per 100k rejected: $(( bytes_running * 100000 / sent )) ; per 1M: $(( bytes_running * 1000000 / sent ))"
echo "peak RSS: ${rss_kb} kB"
echo "audit verify: $verify"
