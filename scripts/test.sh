#!/usr/bin/env bash
# Set everything up and run the whole test suite: the README's test command, and CI's.
#   1. scripts/setup.sh            .venv, the package, the real toxiproxy-server
#   2. ruff check, ruff format --check, mypy   the static checks in pyproject.toml (seconds)
#   3. pytest -n auto tests        unit + integration + chaos (real processes, real Toxiproxy)
#                                  + browser (the dashboard in Debian's Chromium, installed by
#                                  scripts/install-browser.sh first), with the hot path compiled
#                                  (gatemesh/compiled; CI requires the build to be there)
#   3a. the pure-Python pass       the unit, property and HTTP/1.1 tests again with
#                                  GATEMESH_COMPILED=0: the reference path keeps working (~1 min)
#   3b. the serial tier            the quick experiment and tests/nemesis, one test at a time (timing-sensitive: a
#                                  seeded nemesis with the exactly-once check, control-plane
#                                  restart cycles, panic routing, supervisor jobs; ~5 min)
#   4. scripts/compose-tier.sh     the same topology in containers on a real Docker engine
#                                  (installed and started here; images built offline), chaos
#                                  scenarios against containers, everything torn down
#   4b. scripts/k8s-tier.sh        the same topology on a real single-node Kubernetes built
#                                  here (etcd + the components from the Go module proxy, ~15 min
#                                  cold, cached), manifests accepted by a real API server, chaos
#                                  scenarios against pods, everything torn down
#   5. scripts/bench.sh --quick    the proxy benchmark's short round (figures, ratios to
#                                  HAProxy; measured, never asserted), so it cannot rot
# Extra arguments go to pytest only, and skip the compose tier (a slice, not the whole run).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

bash scripts/setup.sh
bash scripts/install-browser.sh
export PATH="$REPO/.tools/bin:$PATH"

started=$(date +%s)
hot_path="$(.venv/bin/python -m gatemesh.compiled status)"
echo "test: hot path $hot_path"
if [[ "${CI:-}" == "true" && "$hot_path" != compiled:* ]]; then
  echo "test: error: the compiled hot path is not in use in CI (scripts/setup.sh builds it; see .gatemesh/compiled.log)" >&2
  exit 1
fi
echo "test: ruff check, mypy ..."
.venv/bin/ruff check --no-cache . || { echo "test: ruff check failed (fix it, or see [tool.ruff] in pyproject.toml)" >&2; exit 1; }
.venv/bin/ruff format --check --no-cache . >/dev/null || { .venv/bin/ruff format --check --no-cache . >&2; echo "test: ruff format --check failed: run .venv/bin/ruff format ." >&2; exit 1; }
.venv/bin/mypy || { echo "test: mypy failed (see [tool.mypy] in pyproject.toml)" >&2; exit 1; }
whole=0
if [[ $# -eq 0 ]]; then
  whole=1
  # Their own serial tier below: they must not share the CPU with -n auto. The quick
  # experiment compares a config's prediction (a breaker's trip, its attempts per call)
  # with what Locust load measured, which a neighbour's CPU load moves.
  set -- --ignore=tests/nemesis --ignore=tests/integration/test_experiment_quick.py
fi
echo "test: pytest -n auto (unit, integration, chaos) ..."
set +e
.venv/bin/python -m pytest -n auto -p no:cacheprovider "$@"
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
  echo "test: error: pytest collected no tests" >&2
  exit 1
fi
[[ $rc -eq 0 ]] || { echo "test: pytest failed (exit $rc)" >&2; exit $rc; }
echo "test: pytest passed in $(( $(date +%s) - started )) s"

if [[ $whole -eq 1 ]]; then
  pure=$(date +%s)
  echo "test: the pure-Python pass (GATEMESH_COMPILED=0: unit, property and HTTP/1.1 tests) ..."
  GATEMESH_COMPILED=0 .venv/bin/python -m pytest -n auto -p no:cacheprovider -q tests/unit tests/fuzz tests/integration/test_http11.py
  echo "test: the pure-Python pass passed in $(( $(date +%s) - pure )) s"
fi

if [[ $whole -eq 1 ]]; then
  tier=$(date +%s)
  echo "test: the serial tier (the quick experiment, then tests/nemesis, one at a time) ..."
  .venv/bin/python -m pytest -p no:xdist -p no:cacheprovider tests/integration/test_experiment_quick.py tests/nemesis
  echo "test: the serial tier passed in $(( $(date +%s) - tier )) s"
fi
if [[ $whole -eq 1 && "${GATEMESH_SKIP_COMPOSE:-0}" != 1 ]]; then
  bash scripts/compose-tier.sh
fi
if [[ $whole -eq 1 && "${GATEMESH_SKIP_K8S:-0}" != 1 ]]; then
  bash scripts/k8s-tier.sh
fi
if [[ $whole -eq 1 ]]; then
  bash scripts/bench.sh --quick
fi
echo "test: all tiers passed in $(( $(date +%s) - started )) s"
