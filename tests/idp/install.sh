#!/usr/bin/env bash
# Install the pinned oidc-provider (a real OpenID provider for the identity
# tests) into tests/idp/node_modules, from the committed package-lock.json.
#
# Usage: tests/idp/install.sh          (any cwd)
#
# Same pattern as deploy/mock/install.sh: `npm ci` only when node_modules is
# missing or stale (a sha256 stamp of package.json + package-lock.json),
# serialized with flock, progress on stderr.
#
# Version pin: oidc-provider 8.8.1, the last 8.x, runs on Node 18 (Debian
# 12's nodejs) and 20; 9.x needs a newer Node.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

log() { echo "idp/install: $*" >&2; }

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  if [[ "$(id -u)" -ne 0 ]]; then
    log "ERROR: node/npm not found and not root; install Debian's nodejs and npm packages."
    exit 1
  fi
  log "node/npm not found; installing Debian's nodejs and npm"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends nodejs npm >&2
fi

stamp_file=node_modules/.agni-install-stamp
want_stamp() { cat package.json package-lock.json | sha256sum | cut -d' ' -f1; }
up_to_date() {
  [[ -d node_modules/oidc-provider && -f "$stamp_file" ]] &&
    [[ "$(cat "$stamp_file")" == "$(want_stamp)" ]]
}

if up_to_date; then
  exit 0
fi

exec 9>"$here/.install.lock"
if ! flock -w 600 9; then
  log "ERROR: timed out waiting for another install to finish"
  exit 1
fi
if up_to_date; then
  exit 0
fi

log "running npm ci in $here (node $(node --version), npm $(npm --version))"
npm ci --no-audit --no-fund --no-update-notifier --loglevel=warn >&2
want_stamp >"$stamp_file"
log "oidc-provider installed"
