#!/usr/bin/env bash
# Install the pinned playwright-core into tests/browser/node_modules from the
# committed package-lock.json, and Debian's chromium (the browser it drives;
# playwright's own browser downloads are never used).
#
# Usage: tests/browser/install.sh          (any cwd)
#
# - Runs `npm ci` only when node_modules is missing or stale (the shared
#   helper deploy/npm_install.sh); otherwise returns at once.
# - Installs chromium with apt when /usr/bin/chromium is absent (root only).
# - Serialized with flock, so concurrent callers are safe.
# - Progress goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

log() { echo "browser/install: $*" >&2; }

exec 9>"$here/.chromium.lock"
if ! flock -w 600 9; then
  log "ERROR: timed out waiting for another install to finish"
  exit 1
fi

if [[ ! -x /usr/bin/chromium ]]; then
  if [[ "$(id -u)" -ne 0 ]]; then
    log "ERROR: /usr/bin/chromium not found and not root; install Debian's chromium package."
    exit 1
  fi
  log "installing Debian's chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends chromium >&2
fi

# The chromium lock is released before the npm install takes its own.
exec 9>&-
# shellcheck source=deploy/npm_install.sh
source "$here/../../deploy/npm_install.sh"
# PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: playwright-core downloads nothing, but
# say so in case a future version would.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
npm_install_pinned "$here" browser node_modules/playwright-core
