#!/usr/bin/env bash
# The k8s tier: gatemesh on a real single-node Kubernetes built on this machine.
#
#   1. scripts/install-k8s.sh       etcd + the Kubernetes components from the Go module proxy
#                                   (~15 min cold, cached by version), containerd, runc and the
#                                   CNI plugins from Debian's packages
#   2. images                       a Docker engine (scripts/install-docker.sh) and the offline
#                                   images (compose/images/build-offline.sh; the compose tier's
#                                   cache makes this seconds)
#   3. acceptance                   every topology's manifests server-side applied to a real
#                                   kube-apiserver and reconciled by the real controllers
#                                   (tests/k8s/test_k8s_apiserver.py: a control plane of its own)
#   4. cluster up                   scripts/k8s/cluster.sh up: etcd, apiserver, controllers,
#                                   scheduler, containerd (its own socket), kubelet; images imported
#   5. deploy edge-mesh             rendered with the offline images, server-side applied, every
#                                   pod Ready, every instance registered
#   6. chaos                        pytest tests/k8s (GATEMESH_RUNNER=k8s)
#   7. tear down (always, on exit)  the namespace, then cluster.sh down; nothing may be left
#   8. timings
#
# When no Docker engine can run here (no way to get the images), the tier is skipped with a
# loud banner and exits 0: that is the only skip. Every other failure exits non-zero.
# Environment: GATEMESH_K8S_APP_IMAGE / GATEMESH_K8S_TOXIPROXY_IMAGE (instead of the offline
# images), GATEMESH_TIER_PYTEST_ARGS (extra pytest arguments, e.g. "-k retry").
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
PY="$REPO/.venv/bin/python"
TOPOLOGY=edge-mesh
NS="gatemesh-$TOPOLOGY"
export GATEMESH_K8S_STATE="${GATEMESH_K8S_STATE:-/tmp/gatemesh-k8s}"
LOCK=/tmp/gatemesh-k8s-tier.lock   # one tier per machine: the API server's and the topology's ports are fixed
CLUSTER=(bash "$REPO/scripts/k8s/cluster.sh")

say() { echo "k8s-tier: $*"; }
fail() { echo "k8s-tier: error: $*" >&2; exit 1; }
banner() { echo; printf '#%.0s' {1..80}; echo; for l in "$@"; do echo "#  $l"; done; printf '#%.0s' {1..80}; echo; echo; }

T0=$SECONDS
declare -a TIMINGS=()
step_start=0
start() { step_start=$SECONDS; say "--- $1"; }
done_step() { TIMINGS+=("$(printf '%-44s %5d s' "$1" $((SECONDS - step_start)))"); }

[[ -x "$PY" ]] || bash scripts/setup.sh
exec 9>"$LOCK"
flock -w 1200 9 || fail "another k8s tier holds $LOCK for more than 20 min"

# --- 1. the binaries -----------------------------------------------------------------------------
start "Kubernetes binaries (scripts/install-k8s.sh)"
bash scripts/install-k8s.sh || fail "could not build or install the Kubernetes components"
export PATH="$REPO/.tools/bin:$PATH"
done_step "binaries (built or cached)"

# --- 2. images -------------------------------------------------------------------------------------
start "images"
APP_IMAGE="${GATEMESH_K8S_APP_IMAGE:-}"
TOXIPROXY_IMAGE="${GATEMESH_K8S_TOXIPROXY_IMAGE:-}"
if ! docker_out="$(bash scripts/install-docker.sh 2>&1)"; then
  echo "$docker_out"
  banner "K8S TIER SKIPPED: no Docker engine here to build and export the images." \
         "$(echo "$docker_out" | grep -m1 'error:' || echo 'scripts/install-docker.sh failed')" \
         "The cluster was NOT brought up and the k8s chaos scenarios did NOT run."
  exit 0
fi
if [[ -z "$APP_IMAGE" || -z "$TOXIPROXY_IMAGE" ]]; then
  bash compose/images/build-offline.sh
  set -a; . .gatemesh/images.env; set +a
  APP_IMAGE="${GATEMESH_K8S_APP_IMAGE:-$APP_IMAGE}"
  TOXIPROXY_IMAGE="${GATEMESH_K8S_TOXIPROXY_IMAGE:-$TOXIPROXY_IMAGE}"
fi
say "images: $APP_IMAGE $TOXIPROXY_IMAGE"
done_step "images (offline build, cached)"

# --- 3. acceptance by a real API server --------------------------------------------------------------
start "acceptance: server-side apply of every topology (tests/k8s/test_k8s_apiserver.py)"
GATEMESH_RUNNER=k8s timeout 600 "$PY" -m pytest -p no:cacheprovider -p no:xdist tests/k8s/test_k8s_drift.py \
  tests/k8s/test_k8s_apiserver.py || fail "the manifests were not accepted and reconciled by the API server"
done_step "acceptance (own control plane, up + down)"

# --- 7. teardown, whatever happens from here on ----------------------------------------------------
leftovers() {
  local name
  for name in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet containerd; do
    [[ -s "$GATEMESH_K8S_STATE/$name.pid" ]] && kill -0 "$(cat "$GATEMESH_K8S_STATE/$name.pid")" 2>/dev/null && echo "process $name"
  done
  grep -c " $GATEMESH_K8S_STATE/" /proc/mounts | grep -vx 0 | sed 's/^/mounts: /'
  [[ -e "$GATEMESH_K8S_STATE" ]] && echo "folder $GATEMESH_K8S_STATE"
  return 0
}
teardown() {
  local rc=$?
  trap - EXIT
  set +e
  if ((rc != 0)) && [[ -s "$GATEMESH_K8S_STATE/admin.kubeconfig" ]]; then
    kubectl --kubeconfig "$GATEMESH_K8S_STATE/admin.kubeconfig" -n "$NS" get pods -o wide 2>&1 | sed 's/^/  /'
    tail -n 5 "$GATEMESH_K8S_STATE/kubelet.log" 2>/dev/null | sed 's/^/  kubelet: /'
  fi
  start "tear down"
  "${CLUSTER[@]}" down
  rm -rf "/var/lib/gatemesh/$NS"   # the orders pods' hostPath (K8sOptions.data_root)
  left="$(leftovers)"
  if [[ -n "$left" ]]; then
    echo "$left" | sed 's/^/  left behind: /' >&2
    ((rc == 0)) && rc=1
  else
    say "nothing of the cluster is left: no process, mount or state folder"
  fi
  done_step "tear down"
  echo; say "timings:"; printf '  %s\n' "${TIMINGS[@]}"; printf '  %-44s %5d s\n' "k8s tier total" $((SECONDS - T0))
  if ((rc == 0)); then say "k8s tier passed"; else say "k8s tier FAILED (exit $rc)"; fi
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# --- 4. the cluster ------------------------------------------------------------------------------------
start "cluster up (scripts/k8s/cluster.sh up)"
"${CLUSTER[@]}" down >/dev/null 2>&1 || true   # a run that died before its teardown
"${CLUSTER[@]}" up || fail "the cluster did not come up (logs in $GATEMESH_K8S_STATE)"
done_step "cluster up (node Ready)"
start "images into containerd"
"${CLUSTER[@]}" images "$APP_IMAGE" "$TOXIPROXY_IMAGE"
done_step "images imported"
export KUBECONFIG="$GATEMESH_K8S_STATE/admin.kubeconfig"

# --- 5. deploy ---------------------------------------------------------------------------------------------
start "deploy $TOPOLOGY"
"$PY" -m gatemesh.k8s render --topology "$TOPOLOGY" --app-image "$APP_IMAGE" --toxiproxy-image "$TOXIPROXY_IMAGE" \
  --pull-policy Never >"$GATEMESH_K8S_STATE/$TOPOLOGY.yaml"
kubectl apply --server-side --field-manager gatemesh -f "$GATEMESH_K8S_STATE/$TOPOLOGY.yaml" >/dev/null
"$PY" -m gatemesh.k8s.wait --namespace "$NS" --timeout-s 300 || fail "$TOPOLOGY did not get ready on the cluster"
done_step "deploy (apply → every pod Ready + registered)"

# --- 6. chaos -------------------------------------------------------------------------------------------------
start "k8s chaos scenarios (pytest tests/k8s/test_k8s_chaos.py)"
# shellcheck disable=SC2086  # extra arguments are words
GATEMESH_RUNNER=k8s GATEMESH_K8S_CLUSTER_UP=1 GATEMESH_K8S_NAMESPACE="$NS" timeout 1500 "$PY" -m pytest \
  -p no:cacheprovider -p no:xdist tests/k8s/test_k8s_chaos.py ${GATEMESH_TIER_PYTEST_ARGS:-} \
  || fail "k8s chaos scenarios failed"
done_step "k8s chaos (pytest wall time)"
