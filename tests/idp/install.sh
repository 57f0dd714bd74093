#!/usr/bin/env bash
# Install the pinned oidc-provider (a real OpenID provider for the identity
# tests) into tests/idp/node_modules, from the committed package-lock.json.
#
# Usage: tests/idp/install.sh          (any cwd)
#
# `npm ci` only when node_modules is missing or stale, nodejs/npm from Debian
# when absent, serialized with flock, progress on stderr: the shared helper
# deploy/npm_install.sh (as deploy/mock/install.sh).
#
# Version pin: oidc-provider 8.8.1, the last 8.x, runs on Node 18 (Debian
# 12's nodejs) and 20; 9.x needs a newer Node.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/npm_install.sh
source "$here/../../deploy/npm_install.sh"
npm_install_pinned "$here" idp node_modules/oidc-provider
