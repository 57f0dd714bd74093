#!/usr/bin/env bash
# Install the pinned Stoplight Prism (the mock of the vendor Agni API) into
# deploy/mock/node_modules, from the committed package-lock.json.
#
# Usage: deploy/mock/install.sh          (any cwd)
#
# - Runs `npm ci --no-audit --no-fund` only when node_modules is missing or
#   stale, i.e. when package.json/package-lock.json changed since the last
#   successful install (a sha256 stamp in node_modules/.agni-install-stamp).
#   Otherwise it returns in a few milliseconds without touching the network.
# - Installs nodejs/npm from Debian (apt) when `npm` is absent (root only).
# - Safe to run concurrently (ctest -j, demo + e2e): serialized with flock.
# - All progress goes to stderr, so callers can capture stdout.
#
# Version pin, and why it is not the newest Prism: @stoplight/prism-cli 5.15.x
# and 5.16.0 declare engines.node >= 24, but Debian 12 ships Node 18.20.4 (and
# this project's machines carry Node 20). 5.14.2 is the newest release that
# supports Node >= 18.20.1. Its own dependencies use caret ranges
# (prism-core ^5.8.0, prism-http-server ^5.12.0) that would float to the
# Node-24-only 5.16.0 builds, so package.json pins them with "overrides", plus
# jsep (1.6.0 needs Node >= 20.16; 1.4.0 supports Node >= 10.16).
# Measured here (2 cores, npm 11.19, Node 20.20): `npm ci` of the 185 packages
# takes 12-15 s (cold or warm npm cache); the up-to-date check takes ~0.1 s.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

log() { echo "mock/install: $*" >&2; }

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  if [[ "$(id -u)" -ne 0 ]]; then
    log "ERROR: node/npm not found and not root; install Debian's nodejs and npm packages."
    exit 1
  fi
  log "node/npm not found; installing Debian's nodejs and npm"
  export DEBIAN_FRONTEND=noninteractive
  pkgs=()
  command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
  command -v npm >/dev/null 2>&1 || pkgs+=(npm)
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${pkgs[@]}" >&2
fi

# Prism 5.14.2 needs Node >= 18.20.1.
if ! node -e '
  const [a, b, c] = process.versions.node.split(".").map(Number);
  process.exit(a > 18 || (a === 18 && (b > 20 || (b === 20 && c >= 1))) ? 0 : 1);
'; then
  log "ERROR: Node.js $(node --version) is too old; Prism needs >= 18.20.1."
  exit 1
fi

stamp_file=node_modules/.agni-install-stamp
want_stamp() { cat package.json package-lock.json | sha256sum | cut -d' ' -f1; }
up_to_date() {
  [[ -x node_modules/.bin/prism && -f "$stamp_file" ]] &&
    [[ "$(cat "$stamp_file")" == "$(want_stamp)" ]]
}

if up_to_date; then
  exit 0
fi

# Serialize concurrent installers; re-check after taking the lock.
exec 9>"$here/.install.lock"
if ! flock -w 600 9; then
  log "ERROR: timed out waiting for another install to finish"
  exit 1
fi
if up_to_date; then
  exit 0
fi

log "running npm ci in $here (node $(node --version), npm $(npm --version))"
start=$(date +%s)
# --no-update-notifier: never phone home for npm's own version.
npm ci --no-audit --no-fund --no-update-notifier --loglevel=warn >&2
want_stamp >"$stamp_file"
log "prism $(node_modules/.bin/prism --version) installed in $(($(date +%s) - start)) s"
