#!/usr/bin/env bash
# Set gatemesh up on this machine; safe to run again (it skips what is already done).
#   1. .venv with Python 3.11+            (created if missing)
#   2. pip install -e '.[dev,load,docker]' (skipped while pyproject.toml is unchanged)
#   3. scripts/install-toxiproxy.sh        (the real toxiproxy-server)
#   4. scripts/install-browser.sh --npm-only (the dashboard's npm libraries, from the lockfile)
#   5. scripts/install-prometheus.sh       (Debian's prometheus, for `gatemesh up --prometheus`; ~1 min once)
#   6. scripts/install-jaeger.sh          (the trace backend; GATEMESH_NO_JAEGER=1 skips it)
#   7. python -m gatemesh.compiled build   (the hot path compiled by mypyc, ~1 min once per change of
#                                          its sources, cached; without a C compiler, or with
#                                          GATEMESH_COMPILED=0, everything runs as pure Python)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
VENV="$REPO/.venv"
STAMP_DIR="$REPO/.gatemesh"
STAMP="$STAMP_DIR/setup.stamp"
EXTRAS="${GATEMESH_EXTRAS:-dev,load,docker,browser}"

say() { echo "setup: $*"; }
fail() { echo "setup: error: $*" >&2; exit 1; }

python_ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1; }

# 1. the virtualenv
if [[ -x "$VENV/bin/python" ]] && python_ok "$VENV/bin/python"; then
  say ".venv exists ($("$VENV/bin/python" -V 2>&1))"
else
  PY=""
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [[ -n "$candidate" ]] || continue
    if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then PY="$candidate"; break; fi
  done
  [[ -n "$PY" ]] || fail "gatemesh needs Python 3.11 or newer; install it (or set PYTHON=/path/to/python3.11) and re-run scripts/setup.sh"
  [[ -e "$VENV" ]] && rm -rf "$VENV"   # an old or broken venv
  "$PY" -m venv "$VENV" || fail "could not create .venv with $PY (on Debian/Ubuntu: apt-get install python3-venv)"
  say "created .venv with $("$VENV/bin/python" -V 2>&1)"
fi

# 2. the package and its extras
mkdir -p "$STAMP_DIR"
want="$( { cat pyproject.toml; echo "extras=$EXTRAS"; "$VENV/bin/python" -V 2>&1; } | sha256sum | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [[ "$want" == "$have" && -x "$VENV/bin/gatemesh" ]]; then
  say "python packages up to date"
else
  say "installing gatemesh and its dependencies into .venv (pip install -e '.[$EXTRAS]') ..."
  log="$STAMP_DIR/pip.log"
  if ! { "$VENV/bin/python" -m pip install -q --upgrade pip \
         && "$VENV/bin/python" -m pip install -q -e ".[$EXTRAS]"; } >"$log" 2>&1; then
    tail -n 15 "$log" >&2
    fail "pip install failed (full log: $log)"
  fi
  echo "$want" >"$STAMP"
  say "python packages installed"
fi

# 3. toxiproxy
bash "$REPO/scripts/install-toxiproxy.sh"
bash "$REPO/scripts/install-browser.sh" --npm-only
bash "$REPO/scripts/install-prometheus.sh"
if [[ "${GATEMESH_NO_JAEGER:-}" != "1" ]]; then
  bash "$REPO/scripts/install-jaeger.sh"
fi
# 7. the compiled hot path (gatemesh/compiled/__init__.py says what and why)
if [[ "${GATEMESH_COMPILED:-1}" != "0" ]]; then
  if status="$("$VENV/bin/python" -m gatemesh.compiled status --require 2>&1)"; then
    say "$status"
  else
    say "compiling the hot path with mypyc (~1 min; log: $STAMP_DIR/compiled.log) ..."
    if "$VENV/bin/python" -m gatemesh.compiled build >"$STAMP_DIR/compiled.log" 2>&1; then
      say "$(tail -n 1 "$STAMP_DIR/compiled.log")"
    else
      tail -n 5 "$STAMP_DIR/compiled.log" >&2
      say "warning: the compiled build failed; the proxies run as pure Python (full log: $STAMP_DIR/compiled.log)"
    fi
  fi
fi
say "done; activate with: source .venv/bin/activate"
