#!/usr/bin/env bash
# Prometheus (the metrics backend `gatemesh up --prometheus` starts), from Debian's own
# `prometheus` package. Safe to run again: skipped when /usr/bin/prometheus answers.
#   - apt-get install --no-install-recommends prometheus   (root, or passwordless sudo)
#   - the package's own service is never started: gatemesh runs the binary itself, bound to
#     127.0.0.1 on a port of the run's own (gatemesh/runner/prometheus.py). Without
#     systemd, the package's postinst would start /etc/init.d/prometheus (listening on
#     every interface on :9090) unless policy-rc.d says no, so one is put in place for the
#     install when the machine has none (Docker's images ship the same file).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { echo "install-prometheus: $*"; }
fail() { echo "install-prometheus: error: $*" >&2; exit 1; }

if [[ -x /usr/bin/prometheus ]] && /usr/bin/prometheus --version >/dev/null 2>&1; then
  say "prometheus present ($(/usr/bin/prometheus --version 2>&1 | head -1))"
  exit 0
fi
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null && sudo -n true 2>/dev/null \
    || fail "installing Debian's prometheus needs root; run this script as root or with passwordless sudo"
  SUDO=(sudo -n)
fi
mkdir -p "$REPO/.gatemesh"
log="$REPO/.gatemesh/apt-prometheus.log"
policy=/usr/sbin/policy-rc.d
placed=0
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\n# placed by gatemesh install-prometheus.sh for the install only\nexit 101\n' \
    | "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod 755 "$policy"
  placed=1
fi
cleanup() { if [[ $placed -eq 1 ]]; then "${SUDO[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT
say "apt-get install prometheus (Debian's package, ~20 MB) ..."
started=$SECONDS
if ! { "${SUDO[@]}" apt-get update -qq \
       && DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends prometheus; } \
     >"$log" 2>&1; then
  tail -n 15 "$log" >&2
  fail "could not install Debian's prometheus (log: $log)"
fi
/usr/bin/prometheus --version >/dev/null 2>&1 || fail "/usr/bin/prometheus does not run after the install (log: $log)"
say "prometheus installed in $((SECONDS - started)) s ($(/usr/bin/prometheus --version 2>&1 | head -1))"
