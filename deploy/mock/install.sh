#!/usr/bin/env bash
# Install the pinned Stoplight Prism (the mock of the vendor Agni API) into
# deploy/mock/node_modules, from the committed package-lock.json.
#
# Usage: deploy/mock/install.sh          (any cwd)
#
# `npm ci` only when node_modules is missing or stale, nodejs/npm from Debian
# when absent, serialized with flock, progress on stderr: the shared helper
# deploy/npm_install.sh.
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
# shellcheck source=deploy/npm_install.sh
source "$here/../npm_install.sh"
# Prism 5.14.2 needs Node >= 18.20.1.
npm_install_pinned "$here" mock node_modules/.bin/prism 18.20.1
