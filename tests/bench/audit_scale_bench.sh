#!/usr/bin/env bash
# Audit-at-scale figures on an existing log (run by hand, never a test; called
# by audit_bench.sh after it has built the log): start to ready on an empty
# log and on this one, the background verifier's rate, filtered GET /v1/audit
# over HTTP (p99), `audit tail --follow` delay, and the gateway's peak RSS.
#
# Usage: bash tests/bench/audit_scale_bench.sh BIN DB WORK_DIR
#   AGNI_VERIFY_SECONDS=N  how long the verifier's rate is measured (120)
#   AGNI_PAGE_RUNS=N       runs of each page query (50)
set -euo pipefail
BIN="$1"
DB="$2"
work="$3"
mkdir -p "$work"
now_ms() { date +%s%3N; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A key kept from an earlier run in WORK_DIR has already signed this log.
[[ -f "$work/sign.pem" ]] ||
  "$BIN" audit keygen --private "$work/sign.pem" --public "$work/sign.pub" >/dev/null
"$BIN" token new --user mallory --groups contractors --json >"$work/mallory.json"
"$BIN" token new --user carl --groups compliance --json >"$work/carl.json"
tok() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$1"; }
mallory="$(tok "$work/mallory.json")"
carl="$(tok "$work/carl.json")"
echo '{"rules":[{"id":"no-contractors","effect":"deny","groups":["contractors"]}]}' >"$work/policy.json"

# write_config DB RATE: gateway.json for DB on fresh ports (gw_port, admin_port).
write_config() {
  gw_port="$(free_port)"
  admin_port="$(free_port)"
  python3 - "$work" "$1" "$2" "$gw_port" "$admin_port" <<'PY'
import json, sys
work, db, rate, gw, admin = sys.argv[1:]
users = [json.load(open(f"{work}/{u}.json"))["user"] for u in ("mallory", "carl")]
json.dump({
  "listen": f"127.0.0.1:{gw}", "admin_listen": f"127.0.0.1:{admin}",
  "upstream": {"base_url": "http://127.0.0.1:9", "allow_plain_http": True},
  "audit": {"path": db, "signing_key_file": f"{work}/sign.pem",
            "verify_records_per_second": int(rate)},
  "users": users, "auditors": ["compliance"], "policy_file": f"{work}/policy.json",
}, open(f"{work}/gateway.json", "w"), indent=2)
PY
}

export AGNI_API_KEY="bench-key"
gw_pid=""
# serve DB RATE: starts the gateway (under /usr/bin/time for its peak RSS);
# sets ready_ms, the time from launch to the first /readyz 200.
serve() {
  write_config "$1" "$2"
  local start
  start="$(now_ms)"
  /usr/bin/time -f %M -o "$work/rss" "$BIN" serve --config "$work/gateway.json" \
    >>"$work/gateway.log" 2>&1 </dev/null &
  gw_pid=$!
  for ((i = 0; i < 6000; i++)); do
    kill -0 "$gw_pid" 2>/dev/null || { tail -5 "$work/gateway.log"; exit 1; }
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin_port/readyz")" == 200 ]] && break
    sleep 0.01
  done
  ready_ms=$(($(now_ms) - start))
}
stop() {
  pkill -TERM -P "$gw_pid" # the gateway under /usr/bin/time, which then exits
  wait "$gw_pid" || true
  peak_kib="$(tail -1 "$work/rss")"
}
metric() { curl -s "http://127.0.0.1:$admin_port/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

records="$(sqlite3 "$DB" 'SELECT count(*) FROM audit_records')"
echo
echo "start to ready (serve -> first /readyz 200), signing key configured:"
serve "$work/empty.db" 0 && stop
serve "$work/empty.db" 0
echo "  empty log:                                $ready_ms ms"
stop
serve "$DB" 0
echo "  $records records, first start of a gateway with this key: $ready_ms ms"
grep '"audit chain checked at start"' "$work/gateway.log" | tail -1 | sed 's/^/    /'
grep '"audit head signed at start"' "$work/gateway.log" | tail -1 | sed 's/^/    /'
stop
serve "$DB" 0
echo "  $records records, head signed at the last stop: $ready_ms ms"
grep '"audit chain checked at start"' "$work/gateway.log" | tail -1 | sed 's/^/    /'
stop

echo
echo "background verifier, unbounded pace (verify_records_per_second 1e8; at most ${AGNI_VERIFY_SECONDS:-120} s):"
serve "$DB" 100000000
start="$(now_ms)"
head="$(sqlite3 "$DB" 'SELECT max(seq) FROM audit_records')"
v=0
while (($(now_ms) - start < ${AGNI_VERIFY_SECONDS:-120} * 1000)); do
  v="$(metric agni_gateway_audit_verified_seq)"
  v="${v%.*}"
  [[ -n "$v" ]] && ((v >= head)) && break
  sleep 0.1
done
ms=$(($(now_ms) - start))
echo "  ${v:-0} of $head records in $ms ms = $((${v:-0} * 1000 / (ms > 0 ? ms : 1))) records/s (default pace: 20000/s)"

echo
echo "filtered GET /v1/audit over HTTP (carl, an auditor; 11 queries x ${AGNI_PAGE_RUNS:-50} runs; each read commits its access record):"
: >"$work/times"
for q in "user=mallory&limit=100" "user=user17&limit=100" "decision=deny&limit=100" \
  "phone_number=%2B15550012345&limit=100" "user=user42&decision=deny&limit=100" \
  "from=2026-05-29T10:00:00Z&to=2026-05-29T11:00:00Z&limit=100" \
  "stage=outcome&after_seq=500000&limit=1000" "user=nobody&limit=100" \
  "limit=1000" "reason=policy_denied&limit=1000" \
  "user=user99&from=2026-05-29&to=2026-05-29&limit=100"; do
  for ((i = 0; i < ${AGNI_PAGE_RUNS:-50}; i++)); do
    curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $carl" \
      "http://127.0.0.1:$gw_port/v1/audit?$q" >>"$work/times"
  done
done
sort -n "$work/times" | awk '{a[NR]=$1} END {printf "  %d pages: median %.1f ms, p99 %.1f ms, max %.1f ms\n", NR, a[int(NR/2)]*1000, a[int(NR*0.99)]*1000, a[NR]*1000}'

echo
echo "audit tail --follow delay (a 403 committed -> its line printed; 20 runs):"
head="$(sqlite3 "$DB" 'SELECT max(seq) FROM audit_records')"
"$BIN" audit tail --db "$DB" --after-seq "$head" --follow >"$work/tail.out" &
tail_pid=$!
: >"$work/delays"
for ((i = 1; i <= 20; i++)); do
  curl -s -o /dev/null -X DELETE -H "Authorization: Bearer $mallory" \
    "http://127.0.0.1:$gw_port/api/v1/phone-numbers/+1999000$((1000 + i))/release/"
  sent="$(now_ms)"
  until grep -q "+1999000$((1000 + i))" "$work/tail.out"; do sleep 0.005; done
  echo $(($(now_ms) - sent)) >>"$work/delays"
done
kill "$tail_pid"
sort -n "$work/delays" | awk '{a[NR]=$1} END {printf "  median %d ms, max %d ms (poll every 200 ms)\n", a[int(NR/2)], a[NR]}'
stop
echo
echo "peak RSS of serve (verifier pass over every record + the pages + the releases): $((peak_kib / 1024)) MiB"
