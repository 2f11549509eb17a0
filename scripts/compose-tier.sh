#!/usr/bin/env bash
# The compose tier: gatemesh in real containers on a real Docker engine.
#
#   1. scripts/install-docker.sh         docker.io + docker-compose, dockerd started;
#      scripts/install-compose-v2.sh     Compose v2 (`docker compose`, what users run), built
#                                        from the Go module proxy (~4 min the first time)
#   2. compose/images/build-offline.sh   the images, with no registry (cached base reused)
#   3. validate                          compose/*.yml == their definitions (drift check), and
#                                        `config` of all four files with every compose CLI here
#   4. bring up edge-mesh                the committed file + the tests' override (compose/edge-mesh.test.yml:
#                                        the control plane, Toxiproxy, the instances on 127.0.0.1),
#                                        local images, the proxies in mTLS $GATEMESH_MTLS (default strict);
#                                        the credentials made by the file's one-shot service
#   5. wait                              every container healthy, every instance registered;
#                                        the dashboard opened once in Chromium (gatemesh.dashboard.probe)
#   6. chaos                             pytest tests/compose with GATEMESH_RUNNER=compose
#   7. tear down (always, on exit)       down -v, then check no container, network or volume is left
#   8. timings
#
# When no Docker engine can run on this machine (dockerd will not start), the tier is
# skipped with a loud banner saying why, and exits 0: that is the only skip. Every other
# failure (an image that does not build, a container that does not get healthy, a
# scenario that fails, something left behind) exits non-zero.
#
# Environment: GATEMESH_COMPOSE_TOPOLOGY (default edge-mesh), GATEMESH_COMPOSE_PROJECT (default
# gatemesh-<topology>), GATEMESH_MTLS (strict, permissive or off; default strict: the chaos
# scenarios then cross Toxiproxy on TLS connections), GATEMESH_TIER_PYTEST_ARGS (extra pytest
# arguments, e.g. "-k timeout").
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
TOPOLOGY="${GATEMESH_COMPOSE_TOPOLOGY:-edge-mesh}"
PROJECT="${GATEMESH_COMPOSE_PROJECT:-gatemesh-$TOPOLOGY}"
STATE="$REPO/.gatemesh/compose"
OVERRIDE="compose/$TOPOLOGY.test.yml"
export GATEMESH_MTLS="${GATEMESH_MTLS:-strict}"   # read by compose (the proxies) and by the scenarios
[[ "$GATEMESH_MTLS" =~ ^(strict|permissive|off)$ ]] || { echo "compose-tier: error: GATEMESH_MTLS must be strict, permissive or off, got '$GATEMESH_MTLS'" >&2; exit 2; }
LOCK=/tmp/gatemesh-compose-tier.lock   # one tier per machine: the published ports are fixed
PY="$REPO/.venv/bin/python"

say() { echo "compose-tier: $*"; }
fail() { echo "compose-tier: error: $*" >&2; exit 1; }
banner() {
  echo
  echo "################################################################################"
  for line in "$@"; do echo "#  $line"; done
  echo "################################################################################"
  echo
}

# --- timings ---------------------------------------------------------------------------
T0=$SECONDS
declare -a TIMINGS=()
step_start=0
start() { step_start=$SECONDS; say "--- $1"; }
done_step() { TIMINGS+=("$(printf '%-40s %5d s' "$1" $((SECONDS - step_start)))"); }
print_timings() {
  echo
  say "timings:"
  printf '  %s\n' "${TIMINGS[@]}"
  printf '  %-40s %5d s\n' "compose tier total" $((SECONDS - T0))
}

[[ -x "$PY" ]] || bash scripts/setup.sh

# --- 1. a Docker engine -------------------------------------------------------------------
start "Docker engine (scripts/install-docker.sh)"
if ! install_out="$(bash scripts/install-docker.sh 2>&1)"; then
  echo "$install_out"
  reason="$(echo "$install_out" | grep -m1 'error:' || echo 'scripts/install-docker.sh failed')"
  banner "COMPOSE TIER SKIPPED: no Docker engine can run on this machine." \
         "$reason" \
         "The compose files were NOT brought up and the container chaos scenarios did NOT run." \
         "(The drift and config tests ran in the main pytest pass, where they could.)"
  exit 0
fi
echo "$install_out"
done_step "docker engine ready"
start "Compose v2 (scripts/install-compose-v2.sh)"
bash scripts/install-compose-v2.sh || fail "could not build Compose v2 (docker compose)"
docker compose version >/dev/null 2>&1 || fail "\`docker compose\` (v2) does not run after scripts/install-compose-v2.sh"
done_step "compose v2 ready"

exec 8>"$LOCK"
if ! flock -n 8; then
  say "another compose tier runs on this machine; waiting for it (at most 20 min) ..."
  flock -w 1200 8 || fail "the other compose tier did not finish within 20 min"
fi

COMPOSE=()
if docker compose version >/dev/null 2>&1; then COMPOSE+=("docker compose"); fi
if command -v docker-compose >/dev/null; then COMPOSE+=("docker-compose"); fi
((${#COMPOSE[@]})) || fail "no compose CLI: neither docker-compose nor \`docker compose\` (install-docker.sh installs docker-compose)"
UP_CLI=(${COMPOSE[0]})   # the first: v2 (installed above), what users run; 1.29 still validates
say "compose CLIs: ${COMPOSE[*]} (bringing up with: ${UP_CLI[*]})"

# --- 2. images, offline -----------------------------------------------------------------------
start "images (compose/images/build-offline.sh)"
had_base=0
docker image inspect gatemesh/debian-python:3.11 >/dev/null 2>&1 && had_base=1
bash compose/images/build-offline.sh
if ((had_base)); then done_step "image build (cached base)"; else done_step "image build (cold: debootstrap)"; fi
set -a; . .gatemesh/images.env; set +a
say "images: APP_IMAGE=$APP_IMAGE TOXIPROXY_IMAGE=$TOXIPROXY_IMAGE JAEGER_IMAGE=$JAEGER_IMAGE PROMETHEUS_IMAGE=$PROMETHEUS_IMAGE (BASE_IMAGE=$BASE_IMAGE)"

# --- 3. validate ----------------------------------------------------------------------------------
start "validate compose files"
"$PY" -m gatemesh.compose check || fail "compose/ differs from the topology definitions; run: python -m gatemesh.compose write"
for cli in "${COMPOSE[@]}"; do
  for f in compose/edge.yml compose/mesh.yml compose/edge-mesh.yml compose/sidecar-gateway.yml; do
    name="$(basename "$f" .yml)"
    # --profile load: every service, Locust's too
    $cli -p "gatemesh-$name" -f "$f" --profile load config -q || fail "$cli config rejects $f"
    $cli -p "gatemesh-$name" -f "$f" -f "compose/$name.test.yml" config -q || fail "$cli config rejects $f with compose/$name.test.yml"
  done
  say "$cli config: all four files valid, alone and with their tests' override"
done
done_step "validate (drift + config)"

# --- 7. teardown, whatever happens from here on ---------------------------------------------------
mkdir -p "$STATE"
FILES=(-p "$PROJECT" -f "compose/$TOPOLOGY.yml" -f "$OVERRIDE")

leftovers() {
  # containers, networks and volumes labelled with the project, plus the volumes the
  # project's containers had mounted (anonymous ones carry no label)
  local label="label=com.docker.compose.project=$PROJECT"
  docker ps -aq --filter "$label" | sed 's/^/container /'
  docker network ls -q --filter "$label" | sed 's/^/network /'
  docker volume ls -q --filter "$label" | sed 's/^/volume /'
  if [[ -s "$STATE/volumes" ]]; then
    while read -r v; do docker volume inspect "$v" >/dev/null 2>&1 && echo "volume $v"; done <"$STATE/volumes"
  fi
  return 0
}

show_failures() {
  say "containers of $PROJECT:"
  docker ps -a --filter "label=com.docker.compose.project=$PROJECT" --format '  {{.Names}}\t{{.Status}}' || true
  for c in $(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT" --filter status=exited) \
           $(docker ps -q --filter "label=com.docker.compose.project=$PROJECT" --filter health=unhealthy); do
    say "--- last lines of $(docker inspect --format '{{.Name}}' "$c")"
    docker logs --tail 20 "$c" 2>&1 | sed 's/^/    /' || true
  done
}

teardown() {
  local rc=$?
  trap - EXIT
  set +e
  ((rc == 0)) || show_failures
  start "tear down ($PROJECT)"
  docker ps -aq --filter "label=com.docker.compose.project=$PROJECT" \
    | xargs -r docker inspect --format '{{range .Mounts}}{{if .Name}}{{.Name}}{{"\n"}}{{end}}{{end}}' \
    | sort -u | grep -v '^$' >"$STATE/volumes"
  "${UP_CLI[@]}" "${FILES[@]}" down -v --remove-orphans --timeout 5 >"$STATE/down.log" 2>&1 \
    || { cat "$STATE/down.log"; say "down failed"; }
  left="$(leftovers)"
  if [[ -n "$left" ]]; then
    echo "$left" | sed 's/^/  left behind: /' >&2
    say "error: tear down left things of $PROJECT behind (above)"
    ((rc == 0)) && rc=1
  else
    say "nothing of $PROJECT is left: no container, network or volume"
  fi
  done_step "tear down"
  print_timings
  if ((rc == 0)); then say "compose tier passed"; else say "compose tier FAILED (exit $rc)"; fi
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM   # Ctrl-C or a CI kill: still through the teardown

# --- 4. bring up -----------------------------------------------------------------------------------
start "bring up $TOPOLOGY (${UP_CLI[*]} up -d, mTLS $GATEMESH_MTLS)"
# a run that died before its teardown may have left the project behind: start clean
"${UP_CLI[@]}" "${FILES[@]}" down -v --remove-orphans --timeout 5 >/dev/null 2>&1 || true
timeout 600 "${UP_CLI[@]}" "${FILES[@]}" up -d --no-build >"$STATE/up.log" 2>&1 \
  || { tail -n 30 "$STATE/up.log" >&2; fail "${UP_CLI[*]} up failed (log: $STATE/up.log)"; }
"$PY" -m gatemesh.compose wait --topology "$TOPOLOGY" --project "$PROJECT" --timeout-s 300 \
  || fail "$TOPOLOGY did not get ready in containers"
done_step "bring-up (up -d → healthy + registered)"

start "dashboard in Chromium (gatemesh.dashboard.probe)"
bash scripts/install-browser.sh
instances="$("$PY" -c "from gatemesh.topology import build_topology as b; print(len(b('$TOPOLOGY').instances()))")"
"$PY" -m gatemesh.dashboard.probe "http://127.0.0.1:8090/" --instances "$instances" \
  --screenshot "$STATE/dashboard-$TOPOLOGY.png" --timeout-s 60 || fail "the dashboard does not work in containers"
say "dashboard screenshot: $STATE/dashboard-$TOPOLOGY.png"
done_step "dashboard opened in Chromium"

# --- 6. chaos against the containers ---------------------------------------------------------------
start "compose chaos scenarios (pytest tests/compose)"
# shellcheck disable=SC2086  # extra arguments are words
GATEMESH_RUNNER=compose GATEMESH_COMPOSE_PROJECT="$PROJECT" \
  timeout 1800 "$PY" -m pytest -p no:cacheprovider tests/compose/test_compose_drift.py \
    tests/compose/test_compose_security.py tests/compose/test_compose_chaos.py tests/compose/test_compose_observability.py ${GATEMESH_TIER_PYTEST_ARGS:-} \
  || fail "compose chaos scenarios failed"
done_step "compose chaos (pytest wall time)"
