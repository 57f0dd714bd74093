# The one way this project installs pinned npm packages (sourced, not run):
# the Prism mock (deploy/mock/install.sh), the OpenID provider of the
# identity tests (tests/idp/install.sh) and the browser test's driver
# (tests/browser/install.sh) each keep a package.json and a committed
# package-lock.json, and call
#
#   source "$REPO/deploy/npm_install.sh"
#   npm_install_pinned DIR LABEL READY_PATH [MIN_NODE]
#
# DIR holds package.json and package-lock.json; LABEL names the install in
# messages; READY_PATH (relative to DIR) exists once the packages are
# installed, e.g. node_modules/.bin/prism; MIN_NODE, e.g. 18.20.1, refuses an
# older Node.js with a clear message.
#
# - Runs `npm ci` (exactly the lockfile's versions) only when node_modules is
#   missing or stale, i.e. when package.json or package-lock.json changed since
#   the last successful install (a sha256 stamp in
#   node_modules/.agni-install-stamp); otherwise it returns at once without
#   touching the network.
# - Installs Debian's nodejs/npm with apt when either is absent (root only).
# - Safe to run concurrently (ctest -j, demo + e2e): serialized with flock on
#   DIR/.install.lock, re-checked once the lock is held.
# - All progress goes to stderr, so callers can capture stdout.
# Returns non-zero on any failure.

npm_install_log() { echo "$1/install: ${*:2}" >&2; }

# Node.js and npm from Debian when either is missing.
npm_install_ensure_node() {
  local label=$1
  command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1 &&
    return 0
  if [[ "$(id -u)" -ne 0 ]]; then
    npm_install_log "$label" "ERROR: node/npm not found and not root;" \
      "install Debian's nodejs and npm packages."
    return 1
  fi
  npm_install_log "$label" "node/npm not found; installing Debian's nodejs and npm"
  local pkgs=()
  command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
  command -v npm >/dev/null 2>&1 || pkgs+=(npm)
  DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
      --no-install-recommends "${pkgs[@]}" >&2
}

# True when the installed Node.js is at least MIN (a.b.c).
npm_install_node_at_least() {
  node -e '
    const want = process.argv[1].split(".").map(Number);
    const have = process.versions.node.split(".").map(Number);
    for (let i = 0; i < 3; i++) {
      if ((have[i] || 0) !== (want[i] || 0)) {
        process.exit((have[i] || 0) > (want[i] || 0) ? 0 : 1);
      }
    }
  ' "$1"
}

npm_install_pinned() {
  local dir=$1 label=$2 ready=$3 min_node=${4:-}
  npm_install_ensure_node "$label" || return 1
  if [[ -n "$min_node" ]] && ! npm_install_node_at_least "$min_node"; then
    npm_install_log "$label" "ERROR: Node.js $(node --version) is too old;" \
      "$label needs >= $min_node."
    return 1
  fi
  local stamp="$dir/node_modules/.agni-install-stamp"
  local want
  want="$(cat "$dir/package.json" "$dir/package-lock.json" |
    sha256sum | cut -d' ' -f1)" || return 1
  if [[ -e "$dir/$ready" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  (
    if ! flock -w 600 9; then
      npm_install_log "$label" "ERROR: timed out waiting for another install to finish"
      exit 1
    fi
    if [[ -e "$dir/$ready" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
      exit 0
    fi
    npm_install_log "$label" "running npm ci in $dir" \
      "(node $(node --version), npm $(npm --version))"
    start=$(date +%s)
    cd "$dir" || exit 1
    # --no-update-notifier: never phone home for npm's own version.
    npm ci --no-audit --no-fund --no-update-notifier --loglevel=warn >&2 ||
      exit 1
    echo "$want" >"$stamp"
    npm_install_log "$label" "installed in $(($(date +%s) - start)) s"
  ) 9>"$dir/.install.lock"
}
