#!/usr/bin/env bash
# Every deployment file checked with the tool that understands it, here, with
# no Docker engine, cluster or systemd running:
#   - deploy/prometheus: promtool check config / check rules / test rules;
#   - alert rules and the Grafana dashboard only use series a live gateway
#     exports (scraped from the built binary);
#   - deploy/systemd: systemd-analyze verify (no warnings) and its offline
#     security score;
#   - Dockerfile: the runtime stage installs the Debian package of every
#     library `ldd` lists for the built binary, runs as a non-root user, keeps
#     the audit on a volume, health-checks with `agni-gateway healthcheck`,
#     reads the key from a secret file; every COPY source exists;
#   - compose and Kubernetes manifests parse and hold what the README says;
#   - every shipped gateway.json serves TLS on its main listener and keeps the
#     admin listener internal (loopback, or a port no Service publishes and a
#     NetworkPolicy guards), and passes check-config without a warning.
#
# Usage: bash tests/e2e/deploy_test.sh PATH/TO/agni-gateway
set -euo pipefail

# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup deploy "$@"
trap '[[ -n "$gw_pid" ]] && kill -9 "$gw_pid" 2>/dev/null; rm -rf "$work"' EXIT

PY=/usr/bin/python3

# --- Prometheus ------------------------------------------------------------
cd "$REPO/deploy/prometheus"
check "promtool check config deploy/prometheus/prometheus.yml" \
  promtool check config prometheus.yml
check "promtool check rules deploy/prometheus/alerts.yml" \
  promtool check rules alerts.yml
check "promtool test rules: each alert fires on its condition (alerts_test.yml)" \
  promtool test rules alerts_test.yml
for alert in AgniGatewayDown AgniGatewayAuditWriteFailures AgniGatewayUpstreamErrors \
  AgniGatewayUpstreamTimeouts AgniGatewayApprovalsPendingTooLong AgniGatewayConfigReloadFailed; do
  check "alert rule $alert exists" grep -q "alert: $alert\$" alerts.yml
done

# --- the series a live gateway exports -------------------------------------
cd "$work"
cat >policy.json <<'JSON'
{"rules":[],"limits":[{"id":"per-user-hourly","per":"user","max":5,"window":"1h"}]}
JSON
# One notification channel, so its per-channel series are declared.
cat >gateway.json <<'JSON'
{"listen": "127.0.0.1:0", "admin_listen": "127.0.0.1:0",
 "upstream": {"base_url": "http://127.0.0.1:9", "allow_plain_http": true},
 "audit": {"path": "audit.db"}, "users": [], "policy_file": "policy.json",
 "approvals": {"notify": [{"type": "slack", "url": "http://127.0.0.1:9/slack"}]}}
JSON
AGNI_API_KEY=k "$BIN" serve --config gateway.json 2>serve.log &
gw_pid=$!
listening_ports serve.log
# One request, so the per-request families have a series.
curl -s -o /dev/null "http://127.0.0.1:$port/v1/whoami" || true
curl -fsS "http://127.0.0.1:$admin/metrics" >scrape.txt
kill -TERM "$gw_pid"; wait "$gw_pid" || true; gw_pid=""
awk '/^# TYPE /{print $3}' scrape.txt | sort -u >families.txt
check "the live scrape lists the metric families" [ -s families.txt ]
# A referenced name is known when it is a family, or a histogram's
# _bucket/_count/_sum series.
known() {
  local n="$1" base
  grep -qx "$n" families.txt && return 0
  base="$(sed -E 's/_(bucket|count|sum)$//' <<<"$n")"
  grep -qx "$base" families.txt
}
refs_known() { # FILE: every agni_gateway_* name in FILE is exported
  local missing=""
  for n in $(grep -oE 'agni_gateway_[a-z_]+' "$1" | sort -u); do
    known "$n" || missing+=" $n"
  done
  [[ -z "$missing" ]] || { echo "  unknown series in $1:$missing" >&2; return 1; }
}
check "alert rules use only exported series" refs_known "$REPO/deploy/prometheus/alerts.yml"
dash="$REPO/deploy/grafana/agni-gateway-dashboard.json"
check "the Grafana dashboard is valid JSON with panels" \
  bash -c 'jq -e ".panels | length > 0" "$1" >/dev/null' _ "$dash"
jq -r '.panels[].targets[].expr' "$dash" >dashboard-exprs.txt
check "dashboard queries use only exported series" refs_known dashboard-exprs.txt
for topic in policy_decisions_total upstream_request_duration_seconds_bucket \
  approvals_pending approvals_total audit_write_failures_total audit_commit_duration_seconds_bucket \
  break_glass_total reviews_pending reviews_overdue notifications_total; do
  check "dashboard shows agni_gateway_$topic" grep -q "agni_gateway_$topic" dashboard-exprs.txt
done

check "version names the version and the commit it was built from" \
  bash -c '[[ "$("$1" version)" =~ ^agni-gateway\ [0-9]+\.[0-9]+\.[0-9]+\ \(commit\ [0-9a-z]+\)$ ]]' _ "$BIN"
check "build_info carries version and commit" \
  grep -qE '^agni_gateway_build_info\{commit="[0-9a-z]+",version="[0-9.]+"\} 1$' scrape.txt

# --- systemd ---------------------------------------------------------------
unit="$REPO/deploy/systemd/agni-gateway.service"
sed "s|/usr/local/bin/agni-gateway|$BIN|g" "$unit" >"$work/agni-gateway.service"
verify_out="$(systemd-analyze verify "$work/agni-gateway.service" 2>&1)" && vrc=0 || vrc=$?
check "systemd-analyze verify: no errors or warnings" \
  bash -c '[ "$1" -eq 0 ] && [ -z "$2" ] || { echo "$2" >&2; exit 1; }' _ "$vrc" "$verify_out"
for d in "DynamicUser=yes" "StateDirectory=agni-gateway" "ProtectSystem=strict" \
  "NoNewPrivileges=yes" "LoadCredential=agni_api_key:" 'ExecReload=/bin/kill -HUP $MAINPID' \
  'AGNI_API_KEY_FILE=%d/agni_api_key'; do
  check "unit sets $d" grep -qF "$d" "$unit"
done
exposure="$(systemd-analyze security --offline=yes "$work/agni-gateway.service" 2>/dev/null |
  sed -nE 's/.*Overall exposure level for [^:]*: ([0-9.]+).*/\1/p')"
echo "     systemd-analyze security exposure: ${exposure:-?}"
check "systemd-analyze security exposure is at most 2.0 (OK)" \
  awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 2.0) }'

# --- Dockerfile --------------------------------------------------------------
df="$REPO/Dockerfile"
# The runtime stage: everything after the last FROM.
runtime="$(awk '/^FROM /{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' "$df")"
runtime_pkgs="$(sed -n '/apt-get install/,/rm -rf/p' <<<"$runtime" | tr ' \\' '\n\n' |
  grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -vE '^(apt-get|install|rm|update|useradd)$' | sort -u)"
needed=""
for lib in $(ldd "$BIN" | awk '/=>/ {print $3}'); do
  pkg="$( (dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null ||
    dpkg -S "/usr$lib" 2>/dev/null) | head -1 | cut -d: -f1)"
  needed+="${pkg:-UNKNOWN($lib)} "
done
needed="$(tr ' ' '\n' <<<"$needed" | sed '/^$/d' | sort -u)"
echo "     ldd packages: $(tr '\n' ' ' <<<"$needed")"
missing_pkgs="$(comm -23 <(echo "$needed") <(echo "$runtime_pkgs"))"
check "runtime stage installs every package ldd needs${missing_pkgs:+ (missing: $missing_pkgs)}" \
  [ -z "$missing_pkgs" ]
check "runtime stage is debian:12-slim" bash -c 'grep -qx "FROM debian:12-slim" "$1"' _ "$df"
check "build stage is Debian 12" bash -c 'grep -qE "^FROM debian:12 AS build" "$1"' _ "$df"
build_pkgs="$(awk '/^FROM debian:12 AS build/{f=1} /^FROM debian:12-slim/{f=0} f' "$df" |
  sed -n '/apt-get install/,/rm -rf/p' | tr ' \\' '\n\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' |
  grep -vE '^(apt-get|install|rm|update)$' | sort -u)"
deps_pkgs="$(sed -n '/^packages=(/,/^)/p' "$REPO/deploy/install-deps.sh" | grep -v '#' |
  tr ' ' '\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | sort -u)"
extra_build="$(comm -23 <(echo "$build_pkgs") <(echo "$deps_pkgs"))"
check "build stage packages are ones install-deps.sh (and so CI) builds with${extra_build:+ (unknown: $extra_build)}" \
  [ -z "$extra_build" ]
check "runtime runs as a non-root user" bash -c 'grep -qE "^USER [a-z]" "$1" && ! grep -qE "^USER (root|0)" "$1"' _ "$df"
check "the audit directory is a volume" grep -q 'VOLUME \["/var/lib/agni-gateway"\]' "$df"
check "HEALTHCHECK runs agni-gateway healthcheck" \
  bash -c 'grep -A1 "^HEALTHCHECK" "$1" | grep -q "agni-gateway\", \"healthcheck\""' _ "$df"
check "the key comes from a secret file" grep -q 'AGNI_API_KEY_FILE=/run/secrets/' "$df"
copy_ok=true
while read -r src; do
  [[ -e "$REPO/$src" ]] || { echo "  COPY source missing: $src" >&2; copy_ok=false; }
done < <(grep -E '^COPY ' "$df" | grep -v -- '--from' | awk '{for (i=2;i<NF;i++) print $i}')
check "every COPY source exists" $copy_ok
check "the healthcheck subcommand the image uses exists" \
  bash -c '"$1" healthcheck --help >/dev/null' _ "$BIN"

# --- compose ---------------------------------------------------------------
check "compose file: gateway, mock, Prometheus, Grafana; every mounted file exists" \
  "$PY" - "$REPO/deploy" <<'PYEOF'
import os, sys, yaml
base = sys.argv[1]
doc = yaml.safe_load(open(os.path.join(base, "compose.yaml")))
svcs = doc["services"]
assert {"gateway", "agni-mock", "prometheus", "grafana"} <= set(svcs), svcs.keys()
for name, svc in svcs.items():
    for v in svc.get("volumes", []):
        src = v.split(":")[0]
        if src.startswith("."):
            assert os.path.exists(os.path.join(base, src)), (name, src)
g = svcs["gateway"]
assert "agni_api_key" in g["secrets"]
assert g["environment"]["AGNI_API_KEY_FILE"] == "/run/secrets/agni_api_key"
assert any(v.startswith("audit:") for v in g["volumes"])
assert svcs["agni-mock"]["network_mode"] == "service:gateway"
graf = svcs["grafana"]["volumes"]
assert any("dashboard" in v for v in graf) and any("provisioning" in v for v in graf)
PYEOF
check "compose: HTTPS published, the admin port only on the host's loopback, TLS files as secrets" \
  "$PY" - "$REPO/deploy" <<'PYEOF'
import json, os, sys, yaml
base = sys.argv[1]
g = yaml.safe_load(open(os.path.join(base, "compose.yaml")))["services"]["gateway"]
conf = json.load(open(os.path.join(base, "compose/gateway.json")))
assert conf["tls"]["cert_file"].startswith("/run/secrets/"), conf["tls"]
assert {"agni_tls_cert", "agni_tls_key"} <= set(g["secrets"]), g["secrets"]
admin_port = conf["admin_listen"].rsplit(":", 1)[1]
main_port = conf["listen"].rsplit(":", 1)[1]
for mapping in g["ports"]:
    parts = str(mapping).split(":")
    if parts[-1] == admin_port:
        assert len(parts) == 3 and parts[0] == "127.0.0.1", mapping
assert any(str(m).split(":")[-1] == main_port for m in g["ports"]), g["ports"]
PYEOF

# Each shipped gateway.json, its paths pointed at a scratch folder and a
# throwaway certificate, passes check-config with nothing on stderr (no
# plain-HTTP listener warning).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj /CN=localhost -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
shipped_config_ok() { # FILE: check-config OK, exit 0, no warning
  local d="$work/shipped-$RANDOM"
  mkdir -p "$d"
  cp "$1" "$d/gateway.json"
  cp "$REPO/deploy/examples/policy.json" "$REPO/deploy/examples/numbers.json" "$d/"
  echo "https://hooks.slack.com/services/T000/B000/example" >"$d/slack-webhook.url"
  echo "https://example.webhook.office.com/webhookb2/example" >"$d/teams-webhook.url"
  "$PY" - "$d/gateway.json" "$d" "$work" <<'PYEOF'
import json, sys
path, d, work = sys.argv[1:]
c = json.load(open(path))
c["audit"]["path"] = d + "/audit.db"
c["tls"]["cert_file"] = work + "/tls.crt"
c["tls"]["key_file"] = work + "/tls.key"
json.dump(c, open(path, "w"))
PYEOF
  local out err rc
  out="$("$BIN" check-config --config "$d/gateway.json" 2>"$d/err")" && rc=0 || rc=$?
  err="$(cat "$d/err")"
  [[ "$rc" -eq 0 && "$out" == "OK" && -z "$err" ]] ||
    { echo "  $1: exit $rc, stdout: $out, stderr: $err" >&2; return 1; }
}
for conf in examples/gateway.json examples/gateway-chat.json compose/gateway.json \
  kubernetes/gateway.json; do
  check "deploy/$conf: TLS listener, passes check-config without a warning" \
    shipped_config_ok "$REPO/deploy/$conf"
done
check "deploy/examples and the image keep the admin listener on loopback" \
  "$PY" - "$REPO" <<'PYEOF'
import json, re, sys
repo = sys.argv[1]
c = json.load(open(repo + "/deploy/examples/gateway.json"))
assert c["admin_listen"].startswith("127.0.0.1:"), c["admin_listen"]
admin_port = c["admin_listen"].rsplit(":", 1)[1]
expose = re.findall(r"^EXPOSE (.*)$", open(repo + "/Dockerfile").read(), re.M)
assert expose and admin_port not in " ".join(expose).split(), expose
PYEOF

# --- Kubernetes ------------------------------------------------------------
check "Kubernetes: 1 replica with a volume, key in a Secret, admin probes, PodMonitor" \
  "$PY" - "$REPO/deploy/kubernetes/agni-gateway.yaml" <<'PYEOF'
import sys, yaml
docs = {d["kind"]: d for d in yaml.safe_load_all(open(sys.argv[1]))}
assert {"StatefulSet", "Service", "PodMonitor", "Secret"} <= set(docs), docs.keys()
ss = docs["StatefulSet"]["spec"]
assert ss["replicas"] == 1
assert ss["volumeClaimTemplates"][0]["metadata"]["name"] == "audit"
pod = ss["template"]["spec"]
c = pod["containers"][0]
assert {"name": "audit", "mountPath": "/var/lib/agni-gateway"} in c["volumeMounts"]
ports = {p["name"]: p["containerPort"] for p in c["ports"]}
assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}
assert c["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "admin"}
assert ports["admin"] == 9090
assert any(v.get("secret") for v in pod["volumes"])
assert pod["securityContext"]["runAsNonRoot"] is True
assert pod["terminationGracePeriodSeconds"] > 30
ep = docs["PodMonitor"]["spec"]["podMetricsEndpoints"][0]
assert ep["port"] == "admin" and ep["path"] == "/metrics"
PYEOF
check "Kubernetes: the Service publishes HTTPS only; a NetworkPolicy guards the admin port" \
  "$PY" - "$REPO/deploy/kubernetes" <<'PYEOF'
import json, sys, yaml
base = sys.argv[1]
docs = {d["kind"]: d for d in yaml.safe_load_all(open(base + "/agni-gateway.yaml"))}
conf = json.load(open(base + "/gateway.json"))
admin_port = int(conf["admin_listen"].rsplit(":", 1)[1])
main_port = int(conf["listen"].rsplit(":", 1)[1])
assert "tls" in conf
pod = docs["StatefulSet"]["spec"]["template"]["spec"]
c = pod["containers"][0]
ports = {p["name"]: p["containerPort"] for p in c["ports"]}
assert ports == {"https": main_port, "admin": admin_port}, ports
for p in docs["Service"]["spec"]["ports"]:
    assert p["targetPort"] not in ("admin", admin_port), p
    assert p["targetPort"] in ("https", main_port), p
mounts = {m["mountPath"] for m in c["volumeMounts"]}
assert any(conf["tls"]["cert_file"].startswith(m + "/") for m in mounts), mounts
np = docs["NetworkPolicy"]["spec"]
assert np["podSelector"] == docs["Service"]["spec"]["selector"] or \
    np["podSelector"]["matchLabels"] == docs["Service"]["spec"]["selector"]
admin_rules = [r for r in np["ingress"]
               if any(p.get("port") == admin_port for p in r.get("ports", []))]
assert admin_rules and all(r.get("from") for r in admin_rules), np
PYEOF

report deploy_test
