#!/usr/bin/env bash
# Start the Prism mock of the vendor Agni API on loopback.
#
# Usage:
#   deploy/mock/start.sh PORT LOGFILE   background: start Prism, wait until it
#                                       listens, print "PID PORT" on stdout, exit 0.
#                                       PORT 0 = pick a free loopback port.
#                                       Prism's log (stdout+stderr) goes to LOGFILE.
#                                       The caller must kill PID when done.
#   deploy/mock/start.sh PORT           foreground: exec Prism, log to the terminal.
#
# Environment:
#   AGNI_MOCK_WATCH_PID=PID        (background mode) also kill Prism once PID is
#                                  gone, so a caller killed with SIGKILL (e.g. a
#                                  ctest timeout) does not leak a mock.
#   AGNI_MOCK_START_TIMEOUT=SECS   readiness wait, default 60 (Prism usually
#                                  listens ~1 s after start).
#   AGNI_MOCK_LOG_LEVEL=LEVEL      Prism's -v: info (default) or debug, which also
#                                  logs every request's headers ("< \tx-api-key: ...")
#                                  and the response, for requests that pass
#                                  validation.
#
# Runs deploy/mock/install.sh first (a no-op when node_modules is up to date).
# The command is: prism mock -h 127.0.0.1 -p PORT --errors agni-release.openapi.yaml
#
# ---------------------------------------------------------------------------
# How Prism 5.14.2 answers, observed with this spec (curl against the mock):
#
#   DELETE /api/v1/phone-numbers/%2B14155550100/release/ with `X-Api-Key: <any
#   non-empty value>`  -> 200, `Content-type: application/json`, the static
#   example built from the schema (no examples in the spec):
#     {"success":true,"message":"string","data":{"phone_number":"string",
#      "status":"string","released_at":"string"}}
#   Same without X-Api-Key, with an empty X-Api-Key, or with only
#   `Authorization: Bearer ...` -> 401 application/problem+json
#     {"type":"https://stoplight.io/prism/errors#UNAUTHORIZED",
#      "title":"Invalid security scheme used","status":401,...}
#   (no WWW-Authenticate header). The key's value is never checked, only that
#   the header is present; the header name is case-insensitive.
#
#   Other request violations, also problem+json:
#     no trailing slash (.../release)            -> 404 NO_PATH_MATCHED_ERROR
#     GET or HEAD on the path                    -> 405 NO_METHOD_MATCHED_ERROR
#     empty phone number (/phone-numbers//release/) -> 422 UNPROCESSABLE_ENTITY
#                                                   ("validation":[...] listed)
#     any non-empty request body (the spec has no requestBody)
#                                                -> 415 INVALID_CONTENT_TYPE
#     Accept: application/xml                    -> 406 NOT_ACCEPTABLE
#   Accepted: "+" unencoded or as %2B (even %252B; the parameter is a plain
#   string, Prism does not check E.164), unknown query parameters, extra headers,
#   `Content-Length: 0`, HTTP/1.0, any Accept that admits application/json.
#   Client-controlled knobs the gateway should NOT forward from its clients:
#   `Prefer: code=NNN` / `Prefer: example=..` / `Prefer: dynamic=true` change the
#   mock's answer, and a `__server` query parameter is taken as the base URL
#   Prism matches servers against.
#
#   What --errors does: in *mock* mode the request violations above (401, 404,
#   405, 415, 422, 406) are produced with or without --errors (checked both
#   ways). --errors additionally turns an Error-severity *response* violation
#   into 500 "Request/Response not valid" (errors#VIOLATIONS) instead of only
#   logging it (prism-http-server; cannot happen here since the mock answers
#   from the spec itself). When Prism still answers despite violations it adds
#   an `sl-violations` header; the 4xx answers above carry none, their verdict
#   is the status and the problem+json "type". So a 200 with a JSON body from
#   the mock means the request matched the contract, including the X-Api-Key
#   security scheme.
#
#   Log format (stdout, no colours when not a TTY), one line per event, e.g.
#     [4:49:58 PM] › [HTTP SERVER] delete /api/v1/phone-numbers/%2B14155550100/release/ ℹ  info      Request received
#     [4:49:58 PM] ›     [VALIDATOR] ✔  success   The request passed the validation rules. Looking for the best response
#     [4:49:58 PM] ›     [VALIDATOR] ✖  error     Invalid security scheme used
#     [4:49:58 PM] › [HTTP SERVER] delete ... ✖  error     Request terminated with error: https://stoplight.io/prism/errors#UNAUTHORIZED: ...
#   Count "Request received" lines to count requests that reached the mock.
#   Startup: "Prism is listening on http://127.0.0.1:PORT" after about 1 s.
#   A port already in use makes Prism print "fatal", its usage text and
#   "listen EADDRINUSE: address already in use 127.0.0.1:PORT", and exit 1. SIGTERM stops it
#   within ~2 s. Every response carries permissive CORS headers
#   (Access-Control-Allow-Origin: *); OPTIONS preflights get 204.
# ---------------------------------------------------------------------------
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
spec="$here/agni-release.openapi.yaml"
prism="$here/node_modules/.bin/prism"

log() { echo "mock/start: $*" >&2; }

if [[ $# -lt 1 || $# -gt 2 || ! "$1" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 PORT [LOGFILE]   (PORT 0 = pick a free port; needs LOGFILE)" >&2
  exit 2
fi
port_arg="$1"
logfile="${2:-}"
level="${AGNI_MOCK_LOG_LEVEL:-info}"

"$here/install.sh"

if [[ -z "$logfile" ]]; then
  if [[ "$port_arg" == 0 ]]; then
    echo "$0: PORT 0 needs LOGFILE (background mode)" >&2
    exit 2
  fi
  exec "$prism" mock -h 127.0.0.1 -p "$port_arg" -v "$level" --errors "$spec"
fi

free_port() {
  node -e '
    const s = require("net").createServer();
    s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

timeout_s="${AGNI_MOCK_START_TIMEOUT:-60}"
attempts=1
[[ "$port_arg" == 0 ]] && attempts=5 # the free port may be taken before Prism binds it

for ((attempt = 1; attempt <= attempts; attempt++)); do
  port="$port_arg"
  [[ "$port" == 0 ]] && port="$(free_port)"

  # </dev/null and the redirect to the log file: the background Prism must not
  # hold the caller's stdout, or `$(start.sh ...)` would never return.
  "$prism" mock -h 127.0.0.1 -p "$port" -v "$level" --errors "$spec" </dev/null >"$logfile" 2>&1 &
  pid=$!

  deadline=$((SECONDS + timeout_s))
  ready=0
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      break
    fi
    if grep -q "Prism is listening on http://127.0.0.1:$port" "$logfile" 2>/dev/null &&
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      ready=1
      break
    fi
    sleep 0.1
  done

  if ((ready)); then
    if [[ -n "${AGNI_MOCK_WATCH_PID:-}" ]]; then
      watch="$AGNI_MOCK_WATCH_PID"
      (
        while kill -0 "$watch" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do sleep 1; done
        kill "$pid" 2>/dev/null || true
      ) </dev/null >/dev/null 2>&1 &
    fi
    log "Prism (pid $pid) listening on http://127.0.0.1:$port, log: $logfile"
    echo "$pid $port"
    exit 0
  fi

  if kill -0 "$pid" 2>/dev/null; then
    log "ERROR: Prism did not listen on port $port within ${timeout_s}s"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    tail -n 20 "$logfile" >&2 || true
    exit 1
  fi
  wait "$pid" 2>/dev/null || true
  log "Prism exited during startup on port $port (attempt $attempt/$attempts):"
  tail -n 20 "$logfile" >&2 || true
done
exit 1
