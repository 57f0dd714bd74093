#!/usr/bin/env bash
# The Debian package on this machine, as an operator meets it: `cpack -G DEB`
# in BUILD_DIR, lintian, `dpkg -i`, files where the README promises them
# (`dpkg -L`), the agni user and directories, the unit enabled but not
# started, `systemd-analyze verify` on the installed unit, the installed
# binary's `check-config` on the installed example config, the installed
# binary writing an audit database as agni, an upgrade over itself (edited
# config and database survive), `dpkg -r` (database and config stay), and
# `dpkg --purge` (what it keeps, it says).
#
# It installs into the real system, so it runs on its own (a stage of
# tests/run.sh), as root, on a machine without agni-gateway installed, and
# puts the machine back as it found it (purge, then the kept files and the
# agni user), also when a check fails.
#
# Usage: bash tests/e2e/package_test.sh BUILD_DIR
# shellcheck disable=SC2016 # the bash -c programs are single-quoted on purpose
set -euo pipefail

# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ $# -ne 1 || ! -f "${1:-}/CPackConfig.cmake" ]]; then
  echo "usage: $0 BUILD_DIR   (a configured and built CMake build folder)" >&2
  exit 2
fi
build="$(cd "$1" && pwd)"
conf=/etc/agni-gateway
state=/var/lib/agni-gateway
unit_path=/usr/lib/systemd/system/agni-gateway.service
wants=/etc/systemd/system/multi-user.target.wants/agni-gateway.service

if [[ "$(id -u)" -ne 0 ]]; then
  echo "package_test: needs root (dpkg -i)" >&2
  exit 2
fi
# Only on a machine this test can put back as it was.
leftover=""
pkg_status() { dpkg-query -W -f='${db:Status-Abbrev}' agni-gateway 2>/dev/null || true; }
known_to_dpkg() { [[ -n "$(pkg_status)" && "$(pkg_status)" != "un " ]]; }
not() { ! "$@"; }
known_to_dpkg && leftover+=" package agni-gateway ($(pkg_status))"
dsh=/var/lib/systemd/deb-systemd-helper
for p in "$conf" "$state" "$wants" /etc/systemd/system/agni-gateway.service \
  "$dsh-enabled/agni-gateway.service.dsh-also" "$dsh-masked/agni-gateway.service"; do
  [[ -e "$p" || -L "$p" ]] && leftover+=" $p"
done
getent passwd agni >/dev/null && leftover+=" user agni"
getent group agni >/dev/null && leftover+=" group agni"
if [[ -n "$leftover" ]]; then
  echo "package_test: this machine already has:$leftover" >&2
  echo "package_test: refusing to install over it. If a killed run left them:" >&2
  echo "  dpkg --purge agni-gateway; rm -rf $conf $state; deluser --system agni" >&2
  exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/agni-package.XXXXXX")"
cleanup() {
  [[ -n "$gw_pid" ]] && kill -9 "$gw_pid" 2>/dev/null
  dpkg --purge agni-gateway >/dev/null 2>&1 || true
  $runtime_mask && systemctl unmask --runtime agni-gateway.service >/dev/null 2>&1
  rm -rf "$conf" "$state"
  getent passwd agni >/dev/null && deluser --quiet --system agni >/dev/null 2>&1
  getent group agni >/dev/null && delgroup --quiet --system agni >/dev/null 2>&1
  rm -rf "$work"
  return 0
}
trap cleanup EXIT
# On a host where systemd runs, the package would start the real service once
# the key exists and change the database the checks compare; a runtime mask
# (gone at reboot, not the package's to lift) keeps it stopped. The scripts'
# start and stop decisions are checked below with a stubbed systemd instead.
runtime_mask=false
if [[ -d /run/systemd/system ]]; then
  systemctl mask --runtime agni-gateway.service >/dev/null
  runtime_mask=true
fi

# --- build and check the package ---------------------------------------------
t0=$SECONDS
(cd "$build" && cpack -G DEB) >"$work/cpack.log" 2>&1 || {
  tail -20 "$work/cpack.log" >&2
  exit 1
}
deb="$(sed -nE 's/^CPack: - package: (.*\.deb) generated\.$/\1/p' "$work/cpack.log")"
version="$(sed -nE 's/^project\(agni-gateway VERSION ([0-9.]+).*/\1/p' "$REPO/CMakeLists.txt")"
echo "     package: $deb (cpack $((SECONDS - t0))s)"
check "cpack made agni-gateway_${version}_$(dpkg --print-architecture).deb" \
  test "$(basename "$deb")" = "agni-gateway_${version}_$(dpkg --print-architecture).deb"
field() { dpkg-deb -f "$deb" "$1"; }
check "Version is the project version ($version)" test "$(field Version)" = "$version"
for f in Maintainer Description Section Priority Homepage; do
  check "control field $f is set" test -n "$(field "$f")"
done
check "Depends lists the libraries the binary links (shlibdeps) and adduser" \
  bash -c '[[ "$1" == *libssl3* && "$1" == *libsqlite3-0* && "$1" == *libcpp-httplib* && "$1" == *adduser* ]]' _ "$(field Depends)"
lintian --fail-on error,warning "$deb" >"$work/lintian.txt" 2>&1 && lrc=0 || lrc=$?
grep -v 'running with root privileges' "$work/lintian.txt" | sed 's/^/     lintian: /' || true
check "lintian: no errors or warnings" test "$lrc" -eq 0

# --- install -----------------------------------------------------------------
dpkg -i "$deb" >"$work/install.log" 2>&1 && irc=0 || irc=$?
check "dpkg -i installs it" test "$irc" -eq 0
[[ "$irc" -eq 0 ]] || { cat "$work/install.log" >&2; report package_test; exit 1; }
check "postinst says where the upstream key goes" \
  grep -qF "put the upstream API key in $conf/agni_api_key" "$work/install.log"

dpkg -L agni-gateway >"$work/files.txt"
for f in /usr/bin/agni-gateway "$unit_path" \
  /usr/share/doc/agni-gateway/examples/gateway.json \
  /usr/share/doc/agni-gateway/examples/policy.json \
  /usr/share/doc/agni-gateway/examples/numbers.json \
  /usr/share/agni-gateway/alerts.yml /usr/share/agni-gateway/agni-gateway-dashboard.json \
  /usr/share/doc/agni-gateway/copyright /usr/share/doc/agni-gateway/changelog.gz \
  /usr/share/man/man1/agni-gateway.1.gz; do
  check "dpkg -L lists $f and it is there" bash -c 'grep -qx "$1" "$2" && test -f "$1"' _ "$f" "$work/files.txt"
done
check "the example files are the repository's" \
  bash -c 'for f in gateway.json policy.json numbers.json; do
             cmp -s "$1/deploy/examples/$f" "/usr/share/doc/agni-gateway/examples/$f" || exit 1; done' _ "$REPO"
check "alert rules and dashboard are the repository's" \
  bash -c 'cmp -s "$1/deploy/prometheus/alerts.yml" /usr/share/agni-gateway/alerts.yml &&
           cmp -s "$1/deploy/grafana/agni-gateway-dashboard.json" /usr/share/agni-gateway/agni-gateway-dashboard.json' _ "$REPO"
check "the installed binary runs and names the package version" \
  bash -c '[[ "$(/usr/bin/agni-gateway version)" == "agni-gateway $1 (commit "* ]]' _ "$version"
check "every library of the installed binary resolves" bash -c '! ldd /usr/bin/agni-gateway | grep -q "not found"'

stat_of() { stat -c '%a %U:%G' "$1"; }
check "agni is a system user without a login shell" \
  bash -c 'IFS=: read -r _ _ uid _ _ home shell < <(getent passwd agni);
           (( uid < 1000 )) && [[ "$shell" == /usr/sbin/nologin && "$home" == "$1" ]]' _ "$state"
check "$state is 0750 agni:agni" test "$(stat_of "$state")" = "750 agni:agni"
check "$conf is 0750 root:agni" test "$(stat_of "$conf")" = "750 root:agni"
for f in gateway.json policy.json numbers.json; do
  check "$conf/$f is the example, 0640 root:agni" \
    bash -c 'cmp -s "/usr/share/doc/agni-gateway/examples/$1" "$2/$1" && [[ "$(stat -c "%a %U:%G" "$2/$1")" == "640 root:agni" ]]' _ "$f" "$conf"
done
check "no API key is invented" test ! -e "$conf/agni_api_key"
check "a self-signed certificate for the example's TLS listener: key 0640 root:agni, certificate 0644" \
  bash -c '[[ "$(stat -c "%a %U:%G" "$1/tls/tls.key")" == "640 root:agni" &&
             "$(stat -c "%a %U:%G" "$1/tls/tls.crt")" == "644 root:agni" ]] &&
           openssl x509 -in "$1/tls/tls.crt" -noout -checkend 86400 >/dev/null &&
           [[ "$(openssl x509 -in "$1/tls/tls.crt" -noout -pubkey | sha256sum)" == \
              "$(openssl pkey -in "$1/tls/tls.key" -pubout | sha256sum)" ]]' _ "$conf"
check "the install says the certificate is self-signed and where to replace it" \
  grep -qF "wrote a self-signed certificate" "$work/install.log"

# --- the unit ----------------------------------------------------------------
# deb-systemd-helper links /lib/... on a merged /usr: the same file.
enabled() { [[ "$(readlink -f "$wants")" == "$(readlink -f "$unit_path")" ]]; }
check "the unit is enabled (multi-user.target wants it)" enabled
check "the unit is not started without a key (nothing runs agni-gateway)" \
  not pgrep -f '^/usr/bin/agni-gateway '
check "ExecStart runs the installed binary on /etc/agni-gateway/gateway.json" \
  grep -qx 'ExecStart=/usr/bin/agni-gateway serve --config /etc/agni-gateway/gateway.json' "$unit_path"
check "the unit runs as agni (no DynamicUser)" \
  bash -c 'grep -qx "User=agni" "$1" && grep -qx "Group=agni" "$1" && ! grep -q "^DynamicUser" "$1"' _ "$unit_path"
check "every other directive of deploy/systemd/agni-gateway.service is in the installed unit" \
  bash -c 'grep -E "^[A-Z][A-Za-z]+=" "$1" | grep -vE "^(DynamicUser|ExecStart|ExecStartPre|Documentation)=" |
           while IFS= read -r line; do grep -qxF -- "$line" "$2" || { echo "  missing: $line" >&2; exit 1; }; done' \
  _ "$REPO/deploy/systemd/agni-gateway.service" "$unit_path"
verify_out="$(systemd-analyze verify "$unit_path" 2>&1)" && vrc=0 || vrc=$?
check "systemd-analyze verify on the installed unit: no errors or warnings" \
  bash -c '[ "$1" -eq 0 ] && [ -z "$2" ] || { echo "$2" >&2; exit 1; }' _ "$vrc" "$verify_out"
exposure="$(systemd-analyze security --offline=yes "$unit_path" 2>/dev/null |
  sed -nE 's/.*Overall exposure level for [^:]*: ([0-9.]+).*/\1/p')"
echo "     systemd-analyze security exposure: ${exposure:-?}"
check "systemd-analyze security exposure is at most 2.0 (OK)" \
  awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 2.0) }'

# --- start and stop under a running systemd ----------------------------------
# This machine runs no systemd, so the maintainer scripts only enable the unit.
# What they do when systemd runs: each script again, in a mount namespace whose
# /run has systemd/system (how they detect a running systemd), with systemctl
# and deb-systemd-invoke replaced by stubs that record their calls.
# Skipped (and said so) where this container may not make mount namespaces.
can_unshare=false
unshare -m true 2>/dev/null && can_unshare=true
dpkg-deb -e "$deb" "$work/control"
mkdir -p "$work/stub"
for c in systemctl deb-systemd-invoke; do
  printf '#!/bin/sh\necho "%s $*" >>"%s"\n' "$c" "$work/calls.log" >"$work/stub/$c"
  chmod +x "$work/stub/$c"
done
# under_systemd SCRIPT ARGS...: the package's SCRIPT as dpkg runs it; the
# calls it made are in $work/calls.log.
under_systemd() {
  : >"$work/calls.log"
  $can_unshare || return 0
  unshare -m sh -c 'mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system &&
    PATH="$1:$PATH" DPKG_MAINTSCRIPT_PACKAGE=agni-gateway DPKG_MAINTSCRIPT_NAME="$2" \
      exec "$3/$2" "$4" "$5"' _ "$work/stub" "$1" "$work/control" "$2" "${3:-}" >/dev/null 2>&1
}
called() { grep -qxF "$1" "$work/calls.log"; }
invoked_nothing() { not grep -q '^deb-systemd-invoke' "$work/calls.log"; }
reloaded_only() { called "systemctl --system daemon-reload" && invoked_nothing; }
systemd_check() { # NAME COMMAND...: check, or a skip line where unshare is not allowed
  if $can_unshare; then check "$@"; else echo "skip - $1 (unshare -m is not allowed here)"; fi
}

under_systemd postinst configure ""
systemd_check "postinst (first install) under systemd: daemon-reload, no start without a key" reloaded_only
under_systemd postinst configure "$version"
systemd_check "postinst (upgrade) under systemd: daemon-reload, no start without a key" reloaded_only
check "check-config passes on the installed example config" \
  bash -c '[[ "$(/usr/bin/agni-gateway check-config --config "$1/gateway.json")" == OK* ]]' _ "$conf"

# The operator's edits: loopback listeners on free ports and a key. Then the
# installed binary, as agni, writes its audit database (as the unit would).
jq '.listen = "127.0.0.1:0" | .admin_listen = "127.0.0.1:0"' "$conf/gateway.json" >"$work/edited.json"
cat "$work/edited.json" >"$conf/gateway.json"
install -m 0600 /dev/null "$conf/agni_api_key"
printf '%s' 'package-test-key' >"$conf/agni_api_key"
log="$work/serve.log"
touch "$log" && chmod 0666 "$log"
(cd / && AGNI_API_KEY=package-test-key exec setpriv --reuid=agni --regid=agni --init-groups \
  /usr/bin/agni-gateway serve --config "$conf/gateway.json" </dev/null >>"$log" 2>&1) &
gw_pid=$!
listening_ports "$log"
check "the installed binary serves as agni from $conf" test -n "$admin"
if [[ -n "$admin" ]]; then
  check "its admin listener answers" curl -fsS -o /dev/null "http://127.0.0.1:$admin/livez"
fi
stop_pid "$gw_pid"
wait "$gw_pid" 2>/dev/null || true
gw_pid=""
check "it wrote $state/audit.db, owned by agni" test "$(stat -c %U "$state/audit.db" 2>/dev/null)" = agni
check "audit verify passes on it" \
  bash -c '/usr/bin/agni-gateway audit verify --db "$1" >/dev/null' _ "$state/audit.db"
under_systemd postinst configure "$version"
systemd_check "postinst (upgrade) under systemd with config and key: restarts the service" \
  called "deb-systemd-invoke restart agni-gateway.service"
under_systemd prerm upgrade "$version"
systemd_check "prerm (upgrade) under systemd: leaves it running for postinst to restart" invoked_nothing
under_systemd prerm remove
systemd_check "prerm (remove) under systemd: stops it" called "deb-systemd-invoke stop agni-gateway.service"
sums() { sha256sum "$conf/gateway.json" "$conf/agni_api_key" "$state/audit.db"; }
sums >"$work/before.sha256"

# --- upgrade over itself ---------------------------------------------------------
dpkg -i "$deb" >"$work/upgrade.log" 2>&1 && urc=0 || urc=$?
check "dpkg -i over the installed package succeeds" test "$urc" -eq 0
check "the upgrade kept the edited config, the key and the audit database" \
  bash -c 'diff <(sha256sum "$2/gateway.json" "$2/agni_api_key" "$3/audit.db") "$1"' _ \
  "$work/before.sha256" "$conf" "$state"
check "the upgrade said nothing about a missing key" \
  bash -c '! grep -q "put the upstream API key" "$1"' _ "$work/upgrade.log"
check "the unit is still enabled" enabled

# A newer version too: the same package as version VERSION+1.
(cd "$build" && cpack -G DEB -D CPACK_PACKAGE_VERSION="$version+1" -B "$work/next") \
  >"$work/cpack-next.log" 2>&1 || tail -20 "$work/cpack-next.log" >&2
next="$work/next/agni-gateway_${version}+1_$(dpkg --print-architecture).deb"
dpkg -i "$next" >"$work/upgrade-next.log" 2>&1 && nrc=0 || nrc=$?
check "dpkg -i of version $version+1 upgrades $version" \
  bash -c '[ "$1" -eq 0 ] && grep -qF "over ($2)" "$3"' _ "$nrc" "$version" "$work/upgrade-next.log"
check "dpkg now has $version+1" test "$(dpkg-query -W -f='${Version}' agni-gateway)" = "$version+1"
check "the version upgrade kept the edited config, the key and the audit database" \
  bash -c 'diff <(sha256sum "$2/gateway.json" "$2/agni_api_key" "$3/audit.db") "$1"' _ \
  "$work/before.sha256" "$conf" "$state"
check "the unit is enabled after the version upgrade" enabled

# --- remove ----------------------------------------------------------------------
dpkg -r agni-gateway >"$work/remove.log" 2>&1 && rrc=0 || rrc=$?
check "dpkg -r removes it" test "$rrc" -eq 0
check "the package is gone, its config remains (status rc)" test "$(pkg_status)" = "rc "
check "binary and unit are gone" bash -c '! test -e /usr/bin/agni-gateway && ! test -e "$1"' _ "$unit_path"
check "the audit database, config and key are still there, unchanged" \
  bash -c 'diff <(sha256sum "$2/gateway.json" "$2/agni_api_key" "$3/audit.db") "$1"' _ \
  "$work/before.sha256" "$conf" "$state"

check "the unit is masked until a reinstall" \
  test "$(readlink /etc/systemd/system/agni-gateway.service)" = /dev/null

# --- install again over the config remove left -----------------------------------
dpkg -i "$deb" >"$work/reinstall.log" 2>&1 && rrc=0 || rrc=$?
check "dpkg -i after dpkg -r succeeds" test "$rrc" -eq 0
check "the reinstall unmasked and enabled the unit" \
  bash -c '! test -L /etc/systemd/system/agni-gateway.service && [[ "$(readlink -f "$1")" == "$(readlink -f "$2")" ]]' \
  _ "$wants" "$unit_path"
check "the reinstall kept the edited config, the key and the audit database" \
  bash -c 'diff <(sha256sum "$2/gateway.json" "$2/agni_api_key" "$3/audit.db") "$1"' _ \
  "$work/before.sha256" "$conf" "$state"
dpkg -r agni-gateway >"$work/remove.log" 2>&1 && rrc=0 || rrc=$?
check "dpkg -r again" test "$rrc" -eq 0

# --- purge -------------------------------------------------------------------------
dpkg --purge agni-gateway >"$work/purge.log" 2>&1 && prc=0 || prc=$?
echo "     dpkg --purge says:"
sed 's/^/       /' "$work/purge.log"
check "dpkg --purge succeeds" test "$prc" -eq 0
check "the package is unknown to dpkg afterwards" not known_to_dpkg
check "purge removed the example files the operator left unchanged" \
  bash -c '! test -e "$1/policy.json" && ! test -e "$1/numbers.json" && ! test -e "$1/.examples.sha256" &&
           ! test -e "$1/tls"' _ "$conf"
check "purge kept the edited config, the key and the audit database" \
  bash -c 'diff <(sha256sum "$2/gateway.json" "$2/agni_api_key" "$3/audit.db") "$1"' _ \
  "$work/before.sha256" "$conf" "$state"
check "purge says it keeps the audit database" grep -qF "purge keeps $state" "$work/purge.log"
check "purge says it keeps the edited config and the key" \
  bash -c 'grep -F "purge keeps $1" "$2" | grep -q "agni_api_key" && grep -F "purge keeps $1" "$2" | grep -q "gateway.json"' \
  _ "$conf" "$work/purge.log"
check "purge says it keeps the agni user" grep -qF "purge keeps the system user agni" "$work/purge.log"
check "purge removed the unit's enable and mask links and their records" \
  bash -c 'for p; do ! test -e "$p" && ! test -L "$p" || exit 1; done' _ "$wants" \
  /etc/systemd/system/agni-gateway.service "$dsh-enabled/agni-gateway.service.dsh-also" \
  "$dsh-masked/agni-gateway.service"

echo "     package stage: $((SECONDS - t0))s"
report package_test
