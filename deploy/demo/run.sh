#!/usr/bin/env bash
# One-command local demo of agni-gateway in front of a mock of the Agni API.
#
# Usage: deploy/demo/run.sh [--oidc]   (any cwd; root on a fresh Debian 12)
#
#   --oidc   also start a local OpenID provider (tests/idp/provider.js,
#            oidc-provider from npm, over https with a throwaway certificate)
#            and show a release approved by a person signed in there: a
#            request made with a provider token (curl), oscar signing in at the
#            provider through the console's sign-in (/ui/login, as a browser
#            would, with curl's cookie jar) and approving, the release; then
#            prints what to click ("Sign in with corp") to do it yourself.
#
# What it does:
#   1. deploy/install-deps.sh and deploy/mock/install.sh (fast no-ops when done)
#   2. builds the gateway; on a fresh checkout exactly:
#        cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
#        cmake --build build --target agni-gateway
#      (an already configured build dir is reused as it is configured)
#   3. starts the Prism mock of the vendor API on a free loopback port
#   4. creates demo users with `agni-gateway token new`, writes config.json,
#      policy.json and a demo vendor API key into a state dir
#   5. starts the gateway on free loopback ports and runs a curl walkthrough:
#      an allowed release (200 from the mock), a denied one (403
#      policy_denied, naming the rule), an unauthenticated one (401), then an
#      enforced approval: a release answered 202, two approvals, the release,
#      and its story in the audit log; prints the web console's URL and the
#      tokens to sign in with
#   6. keeps running until Ctrl-C; exits right after the walkthrough when
#      AGNI_DEMO_ONESHOT=1 or stdin is not a terminal. Child processes are
#      stopped on exit either way.
#
# Environment:
#   AGNI_DEMO_DIR=DIR       state dir (config, policy, tokens, logs, audit.db);
#                           kept. Default: a fresh temp dir, removed on exit
#                           unless AGNI_DEMO_KEEP=1.
#   AGNI_DEMO_ONESHOT=1     exit after the walkthrough.
#   AGNI_GATEWAY_BINARY=PATH   use this binary instead of building one.
#   AGNI_BUILD_DIR=DIR      build dir (default: build, relative to the repo).
#
# Exit status: 0 when every walkthrough step answered as expected.
set -euo pipefail

oidc=0
for arg in "$@"; do
  case "$arg" in
    --oidc) oidc=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "demo: unknown argument: $arg (see --help)" >&2
      exit 2
      ;;
  esac
done

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
# stop_pid, free_port, serve_until_healthy: shared with the e2e tests.
# shellcheck source=tests/e2e/lib.sh
source "$REPO/tests/e2e/lib.sh"

bold="" dim="" reset=""
if [[ -t 1 ]]; then
  bold=$'\e[1m' dim=$'\e[2m' reset=$'\e[0m'
fi
say() { echo "${bold}==> $*${reset}"; }

mock_pid=""
gw_pid=""
idp_pid=""
state=""
state_is_temp=0

# shellcheck disable=SC2317 # invoked by trap
cleanup() {
  local rc=$? msg=()
  # Finish cleaning up (bounded: ~10 s at most) even if a second Ctrl-C comes
  # or stdout is gone (e.g. `run.sh | tee log` interrupted): stop the processes
  # and remove the state first, print afterwards, ignore write errors.
  set +e
  trap '' INT TERM HUP PIPE
  [[ -n "$gw_pid" || -n "$mock_pid" ]] && msg+=("demo: stopped the gateway and the mock")
  stop_pid "$gw_pid"
  [[ -n "$gw_pid" ]] && wait "$gw_pid" 2>/dev/null
  stop_pid "$mock_pid"
  stop_pid "$idp_pid"
  if [[ -n "$state" && -d "$state" ]]; then
    if ((state_is_temp)) && [[ "${AGNI_DEMO_KEEP:-0}" != 1 ]]; then
      rm -rf "$state"
      msg+=("demo: removed $state (set AGNI_DEMO_DIR=... or AGNI_DEMO_KEEP=1 to keep it)")
    else
      msg+=("demo: state kept in $state")
    fi
  fi
  ((${#msg[@]})) && printf '%s\n' "" "${msg[@]}" 2>/dev/null
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- 1. dependencies ---------------------------------------------------------
say "checking dependencies"
"$REPO/deploy/install-deps.sh"
"$REPO/deploy/mock/install.sh"
((oidc)) && "$REPO/tests/idp/install.sh"

# --- 2. build -------------------------------------------------------------------
if [[ -n "${AGNI_GATEWAY_BINARY:-}" ]]; then
  BIN="$(cd "$(dirname "$AGNI_GATEWAY_BINARY")" && pwd)/$(basename "$AGNI_GATEWAY_BINARY")"
  [[ -x "$BIN" ]] || { echo "demo: AGNI_GATEWAY_BINARY is not executable: $BIN" >&2; exit 1; }
  say "using $BIN (AGNI_GATEWAY_BINARY; not building)"
else
  build="${AGNI_BUILD_DIR:-build}"
  say "building agni-gateway in $build"
  if [[ ! -f "$build/CMakeCache.txt" ]]; then
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
  fi
  cmake --build "$build" --target agni-gateway
  BIN="$(cd "$build" && pwd)/agni-gateway"
fi
"$BIN" version

# --- 3. state dir and the mock ------------------------------------------------
if [[ -n "${AGNI_DEMO_DIR:-}" ]]; then
  mkdir -p "$AGNI_DEMO_DIR"
  state="$(cd "$AGNI_DEMO_DIR" && pwd)"
else
  state="$(mktemp -d "${TMPDIR:-/tmp}/agni-demo.XXXXXX")"
  state_is_temp=1
fi
mkdir -p "$state/tokens"
chmod 700 "$state" "$state/tokens"

say "starting the Prism mock of the Agni API"
out="$(AGNI_MOCK_WATCH_PID=$$ "$REPO/deploy/mock/start.sh" 0 "$state/prism.log")"
read -r mock_pid mock_port <<<"$out"

# --- 4. users, policy, API key, config ------------------------------------------
say "creating demo users with 'agni-gateway token new'"
for spec in alice:support bob:sales olga:telecom-ops oscar:telecom-ops carol:compliance; do
  name="${spec%%:*}"
  groups="${spec#*:}"
  echo "  $BIN token new --user $name --groups $groups --json"
  "$BIN" token new --user "$name" --groups "$groups" --json >"$state/tokens/$name.json"
  node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).token)' \
    "$state/tokens/$name.json" >"$state/tokens/$name.token"
done
chmod 600 "$state"/tokens/*
alice_token="$(cat "$state/tokens/alice.token")"

cat >"$state/policy.json" <<'EOF'
{
  "rules": [
    { "id": "never-release-emergency", "effect": "deny", "numbers": ["+1911*"] },
    { "id": "prod-needs-two", "effect": "require_approval", "groups": ["support"],
      "numbers": ["+1415*"],
      "approval": { "approvals": 2, "from_groups": ["telecom-ops"], "ttl": "24h",
                    "execute_within": "1h" } },
    { "id": "support-sandbox", "effect": "allow", "groups": ["support"], "numbers": ["+1555*"] }
  ]
}
EOF

# The vendor API key, from a file. The mock accepts any non-empty X-Api-Key.
(umask 077 && node -e 'console.log("demo-" + require("crypto").randomBytes(16).toString("hex"))' \
  >"$state/agni-api-key")
export AGNI_API_KEY_FILE="$state/agni-api-key"
unset AGNI_API_KEY

# --oidc: the provider's certificate (the gateway's ca_file), its signing
# key, and the console client's secret.
if ((oidc)); then
  say "preparing the local OpenID provider (tests/idp)"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$state/idp.key" -out "$state/idp.pem" 2>/dev/null
  (cd "$REPO/tests/idp" && node keygen.js --alg RS256 --kid demo-1) >"$state/idp-signing.json"
  (umask 077 && echo agni-console-secret >"$state/console-secret")
fi

# start_idp GW_PORT: (re)starts the provider for a gateway on GW_PORT (the
# console's redirect URL names the port); sets idp_port.
# shellcheck disable=SC2317 # called by write_config
start_idp() {
  stop_pid "$idp_pid"
  : >"$state/idp.log"
  (cd "$REPO/tests/idp" && exec node provider.js --cert "$state/idp.pem" --key "$state/idp.key" \
    --signing-key "$state/idp-signing.json" \
    --console-redirect "http://localhost:$1/ui/callback") >>"$state/idp.log" 2>&1 &
  idp_pid=$!
  local i
  for ((i = 0; i < 100; i++)); do
    idp_port="$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$state/idp.log")"
    [[ -n "$idp_port" ]] && return 0
    kill -0 "$idp_pid" 2>/dev/null || break
    sleep 0.2
  done
  echo "demo: the OpenID provider did not start:" >&2
  cat "$state/idp.log" >&2
  exit 1
}

# shellcheck disable=SC2317 # called by serve_until_healthy
write_config() { # write_config GW_PORT ADMIN_PORT
  write_gateway_config "$state/config.json" "$1" "$2" "$mock_port" \
    "$state/tokens/alice.json" "$state/tokens/bob.json" \
    "$state/tokens/olga.json" "$state/tokens/oscar.json" "$state/tokens/carol.json"
  if ((oidc)); then
    start_idp "$1"
    # People from the provider: its okta-telecom-ops group is telecom-ops here.
    node -e '
      const fs = require("fs");
      const [file, idp, gw, dir] = process.argv.slice(1);
      const cfg = JSON.parse(fs.readFileSync(file, "utf8"));
      cfg.groups = ["support", "sales", "telecom-ops", "compliance"];
      cfg.identity = { oidc: [{
        name: "corp", issuer: `https://127.0.0.1:${idp}`, audiences: ["agni-gateway"],
        group_map: { "okta-telecom-ops": "telecom-ops" }, ca_file: `${dir}/idp.pem`,
        client_id: "agni-console", client_secret_file: `${dir}/console-secret`,
        redirect_url: `http://localhost:${gw}/ui/callback` }] };
      fs.writeFileSync(file, JSON.stringify(cfg, null, 2));' \
      "$state/config.json" "$idp_port" "$1" "$state"
  fi
}

# --- 5. the gateway ----------------------------------------------------------------
checked=0
# shellcheck disable=SC2317 # called by serve_until_healthy
write_checked_config() { # write_config, check-config on the first start
  write_config "$@"
  if ((!checked)); then
    checked=1
    say "checking the config"
    echo "  $BIN check-config --config $state/config.json"
    "$BIN" check-config --config "$state/config.json" || exit 1
  fi
  say "starting the gateway (log: $state/gateway.log)"
}
if ! serve_until_healthy "$state/config.json" "$state/gateway.log" write_checked_config; then
  echo "demo: giving up: the gateway did not start" >&2
  exit 1
fi

GW="http://127.0.0.1:$gw_port"
unexpected=0
shquote() { # print the arguments as a copy-pasteable shell command line
  local arg out=()
  for arg in "$@"; do
    if [[ "$arg" =~ ^[A-Za-z0-9_./:%+=@,-]+$ ]]; then
      out+=("$arg")
    else
      out+=("'${arg//\'/\'\\\'\'}'")
    fi
  done
  echo "${out[*]}"
}
step() { # step TITLE EXPECTED_STATUS CURL_ARGS...  (prints, runs, shows output)
  local title="$1" want="$2" code
  shift 2
  echo
  say "$title"
  echo "\$ $(shquote curl -sS "$@")"
  code="$(curl -sS --max-time 20 -o "$state/last-body" -w '%{http_code}' "$@")" || code=000
  cat "$state/last-body"
  echo
  if [[ "$code" == "$want" ]]; then
    echo "${dim}(HTTP $code, as expected)${reset}"
  else
    echo "demo: UNEXPECTED: HTTP $code, expected $want" >&2
    unexpected=1
  fi
}

echo
say "gateway on $GW (admin: http://127.0.0.1:$admin_port), mock on http://127.0.0.1:$mock_port"
echo "  alice (group support) token: $alice_token"
echo "  bob   (group sales)   token: $(cat "$state/tokens/bob.token")"
for u in olga oscar carol; do
  printf '  %-5s (group %s) token: %s\n' "$u" \
    "$(json_get "$state/tokens/$u.json" user.groups | tr -d '[]"')" "$(cat "$state/tokens/$u.token")"
done
echo "  policy ($state/policy.json): support may release +1555*; nobody may release +1911*;"
echo "    support's releases of +1415* need two approvals from telecom-ops"

step "1. alice releases +15555550100: allowed by rule support-sandbox, answered by the mock" 200 \
  -X DELETE -H "Authorization: Bearer $alice_token" "$GW/api/v1/phone-numbers/%2B15555550100/release/"
step "2. alice releases +19115550100: denied by rule never-release-emergency" 403 \
  -X DELETE -H "Authorization: Bearer $alice_token" "$GW/api/v1/phone-numbers/%2B19115550100/release/"
step "3. no credentials: unauthenticated" 401 \
  -X DELETE "$GW/api/v1/phone-numbers/%2B15555550100/release/"


olga_token="$(cat "$state/tokens/olga.token")"
oscar_token="$(cat "$state/tokens/oscar.token")"
carol_token="$(cat "$state/tokens/carol.token")"
step "4. alice releases +14155550100: rule prod-needs-two asks for two approvals (202)" 202 \
  -X DELETE -H "Authorization: Bearer $alice_token" "$GW/api/v1/phone-numbers/%2B14155550100/release/"
approval_id="$(json_get "$state/last-body" approval.id || echo missing)"
step "5. olga (telecom-ops) approves, with a reason" 200 \
  -X POST -H "Authorization: Bearer $olga_token" -H 'Content-Type: application/json' \
  -d '{"reason":"ticket OPS-1234 checked"}' "$GW/v1/approvals/$approval_id/approve"
step "6. oscar (telecom-ops) approves: two of two" 200 \
  -X POST -H "Authorization: Bearer $oscar_token" -H 'Content-Type: application/json' \
  -d '{"reason":"customer confirmed"}' "$GW/v1/approvals/$approval_id/approve"
step "7. alice releases again with the approval: forwarded, answered by the mock" 200 \
  -X DELETE -H "Authorization: Bearer $alice_token" -H "X-Approval-Id: $approval_id" \
  "$GW/api/v1/phone-numbers/%2B14155550100/release/"
step "8. carol (auditor) reads the story in the audit log" 200 \
  -H "Authorization: Bearer $carol_token" "$GW/v1/audit?phone_number=%2B14155550100"

if ((oidc)); then
  IDP="https://127.0.0.1:$idp_port"
  echo
  say "OpenID provider on $IDP (log: $state/idp.log); the gateway trusts it as issuer \"corp\""
  # A provider token for alice (client credentials: the provider's client
  # "alice" is the person alice@example.com, group support).
  curl -sS --cacert "$state/idp.pem" -u alice:alice-secret \
    -d 'grant_type=client_credentials&resource=urn%3Aagni-gateway&scope=release' \
    "$IDP/token" >"$state/alice-provider-token.json"
  provider_token="$(json_get "$state/alice-provider-token.json" access_token || echo missing)"
  step "9. alice@example.com, with a token from the provider, releases +14155550111 (202)" 202 \
    -X DELETE -H "Authorization: Bearer $provider_token" "$GW/api/v1/phone-numbers/%2B14155550111/release/"
  oidc_approval="$(json_get "$state/last-body" approval.id || echo missing)"
  step "10. olga (a gateway token) approves: one of two" 200 \
    -X POST -H "Authorization: Bearer $olga_token" -H 'Content-Type: application/json' \
    -d '{"reason":"ticket OPS-1300 checked"}' "$GW/v1/approvals/$oidc_approval/approve"

  echo
  say "11. oscar signs in at the provider through the console (what a browser does, with curl)"
  CONSOLE="http://localhost:$gw_port"
  jar="$state/oscar.cookies"
  rm -f "$jar"
  echo "\$ curl -c $jar -b $jar --cacert $state/idp.pem -L $CONSOLE/ui/login?provider=corp"
  login_page="$(curl -sS -c "$jar" -b "$jar" --cacert "$state/idp.pem" -L -o /dev/null \
    -w '%{url_effective}' "$CONSOLE/ui/login?provider=corp")"
  echo "  -> the provider's login page: $login_page"
  echo "\$ curl ... -d login=oscar $login_page   (the provider sends the browser back to /ui/callback)"
  landed="$(curl -sS -c "$jar" -b "$jar" --cacert "$state/idp.pem" -L -o /dev/null \
    -w '%{url_effective}' -d login=oscar "$login_page")"
  echo "  -> back at $landed"
  curl -sS -b "$jar" -o "$state/oscar-session.json" "$CONSOLE/v1/session"
  cat "$state/oscar-session.json"
  echo
  csrf="$(json_get "$state/oscar-session.json" csrf_token || echo missing)"
  step "12. oscar@example.com (signed in at the provider, session cookie + CSRF token) approves: two of two" 200 \
    -X POST -b "$jar" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
    -d '{"reason":"approved after signing in at corp"}' "$CONSOLE/v1/approvals/$oidc_approval/approve"
  step "13. alice@example.com releases with the approval: forwarded, answered by the mock" 200 \
    -X DELETE -H "Authorization: Bearer $provider_token" -H "X-Approval-Id: $oidc_approval" \
    "$GW/api/v1/phone-numbers/%2B14155550111/release/"
  step "14. carol reads its story: alice@example.com's requests (auth_method oidc, iss and jti) and oscar@example.com's vote" 200 \
    -H "Authorization: Bearer $carol_token" "$GW/v1/audit?phone_number=%2B14155550111"
fi

echo
say "the web console: http://localhost:$gw_port/ui/"
echo "  sign in with a token above: olga or oscar approve on Pending, alice releases"
echo "  on My requests, carol browses Audit. (Open it on this machine: the session"
echo "  cookie is accepted over plain HTTP on a loopback listener only.)"
if ((oidc)); then
  echo "  or click \"Sign in with corp\": your browser goes to the provider at $IDP"
  echo "  (accept its throwaway certificate, $state/idp.pem), type a user name (olga,"
  echo "  oscar: telecom-ops; alice: support) and you are back on the console signed in"
  echo "  as <name>@example.com. To make a request to approve there:"
  echo "    curl -sS --cacert $state/idp.pem -u alice:alice-secret -d 'grant_type=client_credentials&resource=urn%3Aagni-gateway&scope=release' $IDP/token"
  echo "    curl -sS -X DELETE -H \"Authorization: Bearer <access_token>\" $GW/api/v1/phone-numbers/%2B14155550122/release/"
fi

echo
say "more to try"
echo "  bob is in no allowed group (implicit_deny):"
echo "    curl -sS -X DELETE -H \"X-Api-Key: \$(cat $state/tokens/bob.token)\" $GW/api/v1/phone-numbers/%2B15555550100/release/"
echo "  metrics:          curl -sS http://127.0.0.1:$admin_port/metrics"
echo "  readiness:        curl -sS http://127.0.0.1:$admin_port/readyz"
echo "  audit log:        sqlite3 $state/audit.db .dump"
echo "  gateway log:      tail -f $state/gateway.log"
echo "  mock (Prism) log: tail -f $state/prism.log"

if ((unexpected)); then
  echo "demo: some steps did not answer as expected (see above)" >&2
  exit 1
fi

if [[ "${AGNI_DEMO_ONESHOT:-0}" == 1 || ! -t 0 ]]; then
  echo
  echo "demo: walkthrough done (one-shot mode)."
  exit 0
fi

echo
say "running; press Ctrl-C to stop"
gw_rc=0
wait "$gw_pid" || gw_rc=$?
gw_pid=""
echo "demo: the gateway exited (status $gw_rc); last log lines:" >&2
tail -n 20 "$state/gateway.log" >&2 || true
exit 1
