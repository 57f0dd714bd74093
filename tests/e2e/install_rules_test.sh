#!/usr/bin/env bash
# The install rules (deploy/debian/packaging.cmake) without root and without
# touching the system: `cmake --install` into a scratch prefix, and with
# DESTDIR and prefix /usr as CPack does. Every file where README's "Debian
# package" table puts it and nothing else, the unit pointing at the prefix's
# binary and passing `systemd-analyze verify`, the changelog naming the
# project version, the manual page rendering without warnings.
#
# Usage: bash tests/e2e/install_rules_test.sh BUILD_DIR
# shellcheck disable=SC2016 # the bash -c programs are single-quoted on purpose
set -euo pipefail

# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ $# -ne 1 || ! -f "${1:-}/cmake_install.cmake" ]]; then
  echo "usage: $0 BUILD_DIR   (a configured and built CMake build folder)" >&2
  exit 2
fi
build="$(cd "$1" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/agni-install.XXXXXX")"
trap 'rm -rf "$work"' EXIT
version="$(sed -nE 's/^project\(agni-gateway VERSION ([0-9.]+).*/\1/p' "$REPO/CMakeLists.txt")"

expected="bin/agni-gateway
lib/systemd/system/agni-gateway.service
share/agni-gateway/agni-gateway-dashboard.json
share/agni-gateway/alerts.yml
share/doc/agni-gateway/README.md
share/doc/agni-gateway/changelog.gz
share/doc/agni-gateway/copyright
share/doc/agni-gateway/examples/gateway-chat.json
share/doc/agni-gateway/examples/gateway.json
share/doc/agni-gateway/examples/numbers.json
share/doc/agni-gateway/examples/policy.json
share/man/man1/agni-gateway.1.gz"

# --- a plain prefix ------------------------------------------------------------
prefix="$work/opt/agni"
cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1 && rc=0 || rc=$?
check "cmake --install --prefix succeeds" test "$rc" -eq 0
check "it installs exactly the promised files" \
  bash -c 'diff <(echo "$1") <(cd "$2" && find . -type f -printf "%P\n" | LC_ALL=C sort)' _ "$expected" "$prefix"
unit="$prefix/lib/systemd/system/agni-gateway.service"
check "ExecStartPre and ExecStart run the prefix's binary" \
  bash -c 'grep -qx "ExecStartPre=$1/bin/agni-gateway check-config --config /etc/agni-gateway/gateway.json" "$2" &&
           grep -qx "ExecStart=$1/bin/agni-gateway serve --config /etc/agni-gateway/gateway.json" "$2"' \
  _ "$prefix" "$unit"
check "Documentation names the prefix's README" \
  grep -qxF "Documentation=file://$prefix/share/doc/agni-gateway/README.md" "$unit"
check "no path of the hand-install header is left in the unit" \
  bash -c '! grep -q "/usr/local" "$1"' _ "$unit"
check "the unit runs as agni" \
  bash -c 'grep -qx "User=agni" "$1" && ! grep -q "^DynamicUser" "$1"' _ "$unit"
verify_out="$(systemd-analyze verify "$unit" 2>&1)" && vrc=0 || vrc=$?
check "systemd-analyze verify on the installed unit: no errors or warnings" \
  bash -c '[ "$1" -eq 0 ] && [ -z "$2" ] || { echo "$2" >&2; exit 1; }' _ "$vrc" "$verify_out"
check "the installed binary runs" \
  bash -c '[[ "$("$1/bin/agni-gateway" version)" == "agni-gateway $2 "* ]]' _ "$prefix" "$version"
check "the changelog's entry is the project version" \
  bash -c '[[ "$(zcat "$1" | head -1)" == "agni-gateway ($2) unstable; urgency=medium" ]]' \
  _ "$prefix/share/doc/agni-gateway/changelog.gz" "$version"
check "the manual page renders without warnings" \
  bash -c 'out="$(MANWIDTH=80 man --warnings -l "$1" 2>&1 >/dev/null)"; [ -z "$out" ] || { echo "$out" >&2; exit 1; }' \
  _ "$prefix/share/man/man1/agni-gateway.1.gz"

# --- DESTDIR with prefix /usr, as CPack installs -------------------------------
staged="$work/staged"
DESTDIR="$staged" cmake --install "$build" --prefix /usr >"$work/install-destdir.log" 2>&1 && rc=0 || rc=$?
check "DESTDIR=... cmake --install --prefix /usr succeeds" test "$rc" -eq 0
check "it installs exactly the promised files under usr/" \
  bash -c 'diff <(sed "s|^|usr/|" <<<"$1") <(cd "$2" && find . -type f -printf "%P\n" | LC_ALL=C sort)' _ "$expected" "$staged"
check "the staged unit runs /usr/bin/agni-gateway (no DESTDIR in it)" \
  bash -c 'grep -qx "ExecStart=/usr/bin/agni-gateway serve --config /etc/agni-gateway/gateway.json" "$1" &&
           ! grep -qF "$2" "$1"' _ "$staged/usr/lib/systemd/system/agni-gateway.service" "$staged"

report install_rules_test
