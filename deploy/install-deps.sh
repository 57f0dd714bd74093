#!/usr/bin/env bash
# Install everything needed to build and test agni-gateway on Debian 12 (bookworm).
#
# Idempotent and non-interactive. When every package is already installed it
# only runs dpkg-query (well under a second) and never touches the network;
# `apt-get update` runs only when something is missing.
#
# Usage: deploy/install-deps.sh        (as root; no sudo is used)
#
# Node.js/npm: Prism (deploy/mock/) needs `node` >= 18.20.1 and `npm`. Debian 12
# ships nodejs 18.20.4 and npm 9.2.0, which are fine. Some machines instead carry
# NodeSource's `nodejs` package, which bundles npm and *conflicts* with Debian's
# `npm` package (apt would try to remove nodejs to install it). So nodejs/npm are
# judged by the commands on PATH, not by the Debian package names.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

packages=(
  cmake ninja-build g++ pkg-config
  libcpp-httplib-dev nlohmann-json3-dev libsqlitecpp-dev libsqlite3-dev
  prometheus-cpp-dev libssl-dev libgtest-dev libgmock-dev libcli11-dev
  sqlite3 curl openssl ca-certificates
  clang-14 libclang-rt-14-dev
  # The format check of the test command; a compiler cache shared by its builds.
  clang-format-14 ccache
  # promtool and a real Prometheus server for the metrics/alert-rule tests;
  # jq and python3-yaml for the deploy-file checks; systemd for
  # `systemd-analyze verify`.
  prometheus jq python3-yaml systemd
  # IANA time zones for policy time windows; Google Benchmark for policy_bench.
  libhowardhinnant-date-dev tzdata libbenchmark-dev
  # The .deb: CPack's dependency list (dpkg-shlibdeps), Debian's package
  # checker, and what the package's postinst runs.
  dpkg-dev lintian adduser
  # mkfs.ext4 and chattr for the readiness tests (the audit log on a full or
  # read-only file system).
  e2fsprogs
  # A real rsyslog with its TLS driver, started by the syslog sink's tests.
  rsyslog rsyslog-gnutls
  # The web console's browser test (tests/browser/) drives Debian's chromium.
  chromium
)

is_installed() {
  # "ii " = desired install, status installed, no error flags.
  [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" == "ii " ]]
}

missing=()
for p in "${packages[@]}"; do
  is_installed "$p" || missing+=("$p")
done

# Node.js and npm, by command (see header).
if ! command -v node >/dev/null 2>&1; then
  missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
elif ! command -v npm >/dev/null 2>&1; then
  if is_installed nodejs && dpkg-query -W -f='${Version}' nodejs | grep -q nodesource; then
    echo "install-deps: 'node' comes from NodeSource's nodejs package but 'npm' is missing;" >&2
    echo "install-deps: reinstall that nodejs package (it bundles npm); Debian's npm conflicts with it." >&2
    exit 1
  fi
  missing+=(npm)
fi

if ((${#missing[@]} == 0)); then
  echo "install-deps: all build/test dependencies are present."
  exit 0
fi

echo "install-deps: missing: ${missing[*]}"
if [[ "$(id -u)" -ne 0 ]]; then
  echo "install-deps: ERROR: not running as root, cannot install packages." >&2
  echo "install-deps: run this script as root, or install them yourself:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"

# Verify, so a partial install does not pass silently.
still=()
for p in "${packages[@]}"; do
  is_installed "$p" || still+=("$p")
done
command -v node >/dev/null 2>&1 || still+=(node)
command -v npm >/dev/null 2>&1 || still+=(npm)
if ((${#still[@]} > 0)); then
  echo "install-deps: ERROR: still missing after apt-get install: ${still[*]}" >&2
  exit 1
fi
echo "install-deps: done."
