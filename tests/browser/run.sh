#!/usr/bin/env bash
# ctest `browser_console`: installs playwright-core (pinned), chromium and
# the test OpenID provider (tests/idp, oidc-provider pinned) if needed, then
# runs the console's browser tests against the given binary.
# Usage: tests/browser/run.sh PATH/TO/agni-gateway [SCREENSHOT_DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ $# -lt 1 || ! -x "$1" ]]; then
  echo "usage: $0 PATH/TO/agni-gateway [SCREENSHOT_DIR]" >&2
  exit 2
fi
bash "$here/install.sh"
bash "$here/../idp/install.sh"
AGNI_GATEWAY_BINARY="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
export AGNI_GATEWAY_BINARY
if [[ -n "${2:-}" ]]; then
  mkdir -p "$2"
  export AGNI_SCREENSHOT_DIR="$2"
fi
cd "$here"
exec node --test --test-concurrency=1 console.test.mjs
