#!/usr/bin/env bash
# The proxy benchmark: gatemesh's gateway and sidecar hops against HAProxy and nginx,
# measured in the same run (ratios to HAProxy). Installs Debian's haproxy, nginx and wrk
# when they are missing. Arguments go to `python -m loadtests.bench` (e.g. --quick, --json FILE).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
missing=()
for tool in haproxy nginx wrk; do
  command -v "$tool" >/dev/null 2>&1 || [[ -x "/usr/sbin/$tool" ]] || missing+=("$tool")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "bench: error: ${missing[*]} not found; install them (Debian/Ubuntu: apt-get install haproxy nginx wrk)" >&2
    exit 1
  fi
  echo "bench: installing ${missing[*]} (Debian packages) ..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
exec "$REPO/.venv/bin/python" -m loadtests.bench "$@"
