#!/usr/bin/env bash
# The browser tier's tools: Debian's Chromium (Playwright drives it; Playwright cannot
# download its own browser builds here) and the dashboard's npm libraries, from the
# lockfile, into gatemesh/dashboard/static/node_modules. Safe to run again.
#   - chromium          apt-get (root) or sudo; skipped when /usr/bin/chromium exists
#   - playwright (PyPI) the `browser` extra of pyproject.toml, installed by setup.sh
#   - npm ci            skipped while package-lock.json is unchanged
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UI="$REPO/gatemesh/dashboard/static"
say() { echo "install-browser: $*"; }
fail() { echo "install-browser: error: $*" >&2; exit 1; }

# 1. the dashboard's frontend libraries (the dashboard needs these even without a browser)
stamp="$UI/node_modules/.gatemesh-lock.sha256"
want="$(sha256sum "$UI/package-lock.json" | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  say "dashboard npm libraries up to date"
else
  command -v npm >/dev/null || fail "npm is needed for the dashboard's libraries (apt-get install npm)"
  say "npm ci (dashboard libraries from package-lock.json) ..."
  (cd "$UI" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) || fail "npm ci failed in $UI"
  echo "$want" >"$stamp"
fi
[[ "${1:-}" == "--npm-only" ]] && exit 0

# 2. Chromium, from Debian
if [[ -x /usr/bin/chromium ]]; then
  say "chromium present ($(/usr/bin/chromium --version 2>/dev/null | head -1))"
else
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo -n"
  say "apt-get install chromium ..."
  log="$REPO/.gatemesh/apt-chromium.log"
  mkdir -p "$REPO/.gatemesh"
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-dejavu-core; } >"$log" 2>&1; then
    tail -n 15 "$log" >&2
    fail "could not install Debian's chromium (log: $log)"
  fi
  say "chromium installed ($(/usr/bin/chromium --version 2>/dev/null | head -1))"
fi
