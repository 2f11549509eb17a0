#!/usr/bin/env bash
# A single-node Kubernetes on this machine, from the binaries scripts/install-k8s.sh
# built, every listener on 127.0.0.1:
#
#   cluster.sh up [--control-plane-only]   etcd, kube-apiserver, kube-controller-manager
#                                          (+ kube-scheduler, containerd with its CRI
#                                          plugin, kubelet); waits until the node is Ready
#   cluster.sh images IMAGE...             docker save | ctr import into this containerd
#   cluster.sh down                        every process this script started, by its pid
#                                          file; the kubelet's mounts; the state folder
#                                          (containerd's image store stays, in the cache)
#   cluster.sh env                         export KUBECONFIG=... (eval "$(cluster.sh env)")
#
# containerd is Debian's, but a daemon of its own: its own root, state and socket under
# the state folder, so it never touches docker's (or the system's) containerd.
#
# Environment: GATEMESH_K8S_STATE (default /tmp/gatemesh-k8s: short, for unix sockets),
# GATEMESH_K8S_CACHE (where install-k8s.sh put the binaries).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${GATEMESH_K8S_STATE:-/tmp/gatemesh-k8s}"
CACHE="${GATEMESH_K8S_CACHE:-${GATEMESH_CACHE:-$HOME/.cache/gatemesh}/k8s}"
BIN="$(ls -d "$CACHE"/v1.34.2-etcd-*/bin 2>/dev/null | head -n 1)"
ETCD_PORT=23790          # not etcd's 2379: a system etcd may have it
ETCD_PEER_PORT=23800
API_PORT=16443           # not 6443 (a kind cluster's), not the topologies' ports
# The node is "localhost": the kubelet refuses a loopback node IP ("nodeIP can't be
# loopback address"), so the API server reaches it (logs, exec) by its Hostname address,
# which then resolves to 127.0.0.1 (--kubelet-preferred-address-types=Hostname).
NODE=localhost
PAUSE_IMAGE=gatemesh/pause:3.10.1
SOCK="$STATE/containerd.sock"
# containerd's image store outlives a cluster (importing the app image takes ~2 min on a
# busy machine; a warm run finds it there). Everything else of a cluster is in $STATE.
IMAGES="${GATEMESH_K8S_IMAGES:-$CACHE/containerd}"
say() { echo "k8s-cluster: $*"; }
fail() { echo "k8s-cluster: error: $*" >&2; exit 1; }
kubectl() { "$BIN/kubectl" --kubeconfig "$STATE/admin.kubeconfig" "$@"; }

start() { # name, command...: in the background, its pid in $STATE/<name>.pid, log beside it
  local name="$1"; shift
  setsid "$@" >"$STATE/$name.log" 2>&1 < /dev/null &
  echo $! >"$STATE/$name.pid"
}

wait_for() { # what, seconds, command...
  local what="$1" limit="$2" t0=$SECONDS; shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS - t0 < limit)) || fail "$what not ready within ${limit}s (logs in $STATE)"
    sleep 0.5
  done
  say "$what ready ($((SECONDS - t0)) s)"
}

certs() {
  mkdir -p "$STATE/pki"
  [[ -f "$STATE/pki/sa.key" ]] || openssl genrsa -out "$STATE/pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$STATE/pki/sa.key" -pubout -out "$STATE/pki/sa.pub" 2>/dev/null
  [[ -f "$STATE/token" ]] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$STATE/token"
  # One credential for every component, in system:masters: a throwaway loopback cluster
  # that only this machine's tests use (docs/kubernetes.md says what a shared one needs).
  echo "$(cat "$STATE/token"),gatemesh-admin,gatemesh-admin,\"system:masters\"" >"$STATE/pki/tokens.csv"
  cat >"$STATE/admin.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: gatemesh
  cluster: {server: "https://127.0.0.1:$API_PORT", insecure-skip-tls-verify: true}
users:
- name: gatemesh-admin
  user: {token: "$(cat "$STATE/token")"}
contexts:
- name: gatemesh
  context: {cluster: gatemesh, user: gatemesh-admin}
current-context: gatemesh
EOF
}

control_plane() {
  start etcd "$BIN/etcd" --name gatemesh --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "gatemesh=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls "" --log-level warn
  wait_for etcd 30 curl -sf "http://127.0.0.1:$ETCD_PORT/health"
  start kube-apiserver "$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" --cert-dir "$STATE/pki" \
    --token-auth-file "$STATE/pki/tokens.csv" --authorization-mode Node,RBAC --anonymous-auth=false \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$STATE/pki/sa.pub" \
    --service-account-signing-key-file "$STATE/pki/sa.key" --service-cluster-ip-range 198.18.0.0/16 \
    --allow-privileged=true --profiling=false --enable-priority-and-fairness=false --event-ttl 30m \
    --kubelet-preferred-address-types Hostname
  wait_for kube-apiserver 90 kubectl get --raw /readyz
  start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig "$STATE/admin.kubeconfig" \
    --authentication-kubeconfig "$STATE/admin.kubeconfig" --authorization-kubeconfig "$STATE/admin.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 10257 --leader-elect=false --profiling=false \
    --service-account-private-key-file "$STATE/pki/sa.key" --use-service-account-credentials=false \
    --controllers '*,-nodeipam,-service-lb-controller,-cloud-node-lifecycle,-persistentvolume-expander'
  wait_for "the default service account (controller-manager)" 60 kubectl -n default get serviceaccount default
}

node() {
  mkdir -p "$STATE/containerd" "$STATE/cni" "$STATE/kubelet"
  cat >"$STATE/containerd/config.toml" <<EOF
version = 2
root = "$IMAGES/root"
state = "$STATE/containerd/state"
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$STATE/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # The kubelet asks for oom_score_adj -998 for pod sandboxes; this machine's root may not
  # lower its own (runc: "failed to update /proc/self/oom_score_adj: Permission denied"),
  # so the runtime clamps it to what it may set.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "$STATE/runc"   # runc's state of our own, not under /run/containerd
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni"
EOF
  # The pods use the host's network (docs/kubernetes.md), but the runtime reports the
  # node's network ready only with a CNI config: the bridge, for any pod that does not.
  # Its subnet and the Services' range (--service-cluster-ip-range) are taken from RFC
  # 2544's benchmarking block (198.18.0.0/15), never a private range: no traffic goes to
  # either (no kube-proxy; every pod is on the host's loopback).
  cat >"$STATE/cni/10-gatemesh.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "gatemesh", "plugins": [
  {"type": "bridge", "bridge": "gm-cni0", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "198.19.0.0/24"}]], "dataDir": "$STATE/cni/ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
EOF
  start containerd containerd --config "$STATE/containerd/config.toml"
  wait_for containerd 30 ctr --address "$SOCK" version
  # Its CRI plugin initialises after the socket answers (longer with a cached image store);
  # a kubelet that starts before exits ("server is not initialized yet").
  wait_for "containerd's CRI plugin" 120 grep -q "Start streaming server" "$STATE/containerd.log"
  cat >"$STATE/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$SOCK
failSwapOn: false
failCgroupV1: false
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "200Mi", nodefs.available: "2%", imagefs.available: "2%"}
maxPods: 110
EOF
  start kubelet "$BIN/kubelet" --config "$STATE/kubelet/config.yaml" --kubeconfig "$STATE/admin.kubeconfig" \
    --root-dir "$STATE/kubelet/root" --cert-dir "$STATE/kubelet/pki" --hostname-override "$NODE"
  start kube-scheduler "$BIN/kube-scheduler" --kubeconfig "$STATE/admin.kubeconfig" \
    --authentication-kubeconfig "$STATE/admin.kubeconfig" --authorization-kubeconfig "$STATE/admin.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 10259 --leader-elect=false --profiling=false
  wait_for "node $NODE Ready" 120 kubectl wait --for=condition=Ready "node/$NODE" --timeout=2s
}

images() {
  local tmp="$STATE/images"
  mkdir -p "$tmp"
  if ! docker image inspect "$PAUSE_IMAGE" >/dev/null 2>&1; then
    # Kubernetes' pause (install-k8s.sh compiles it) as a one-file image.
    mkdir -p "$tmp/pause" && cp "$BIN/pause" "$tmp/pause/pause"
    printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' >"$tmp/pause/Dockerfile"
    docker build -q -t "$PAUSE_IMAGE" "$tmp/pause" >/dev/null
  fi
  # Only what the store lacks or holds at another image id (a rebuilt app image): the
  # docker id each tag was imported at is kept beside the store.
  local image id stamp want=() ids=()
  mkdir -p "$IMAGES/imported"
  for image in "$PAUSE_IMAGE" "$@"; do
    id="$(docker image inspect -f '{{.Id}}' "$image")" || fail "docker has no image $image"
    stamp="$IMAGES/imported/$(echo "$image" | tr '/:' '__')"
    if [[ "$(cat "$stamp" 2>/dev/null)" == "$id" ]] \
       && ctr --address "$SOCK" -n k8s.io images ls -q | grep -qx "docker.io/$image"; then
      say "$image already in containerd's store"
    else
      want+=("$image") ids+=("$id")
    fi
  done
  ((${#want[@]})) || return 0
  # One docker save for all: layers the images share (the app's base) cross once; unpacked
  # for the CRI's snapshotter as they arrive.
  local t0=$SECONDS
  docker save "${want[@]}" | ctr --address "$SOCK" -n k8s.io images import --snapshotter overlayfs - >/dev/null \
    || fail "could not import ${want[*]} into containerd"
  # the ids read before the save: a tag rebuilt meanwhile is imported again next time
  local i
  for i in "${!want[@]}"; do
    echo "${ids[$i]}" >"$IMAGES/imported/$(echo "${want[$i]}" | tr '/:' '__')"
  done
  say "imported ${want[*]} ($((SECONDS - t0)) s)"
}

stop_pid() { # name: the process of $STATE/<name>.pid, SIGTERM then SIGKILL after 5 s
  local name="$1" pid
  [[ -s "$STATE/$name.pid" ]] || return 0
  pid="$(cat "$STATE/$name.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    say "stopped $name (pid $pid)"
  fi
  rm -f "$STATE/$name.pid"
}

down() {
  local id pid
  # The node first, so nothing restarts the pods; then the pods' containers (containerd's
  # children, not ours: killed and deleted through our containerd, so their shims exit);
  # then the control plane: the reverse of up.
  stop_pid kube-scheduler
  stop_pid kubelet
  if [[ -S "$SOCK" ]]; then
    # in parallel: ~35 tasks, each ctr call a fraction of a second on a loaded machine
    for id in $(task_ids); do ctr --address "$SOCK" -n k8s.io tasks kill -s SIGKILL "$id" >/dev/null 2>&1 & done
    wait
    for id in $(task_ids); do ctr --address "$SOCK" -n k8s.io tasks delete -f "$id" >/dev/null 2>&1 & done
    wait
    # ... and the containers with their snapshots: only the images stay in $IMAGES
    for id in $(ctr --address "$SOCK" -n k8s.io containers ls -q 2>/dev/null); do
      ctr --address "$SOCK" -n k8s.io containers delete "$id" >/dev/null 2>&1 &
    done
    wait
  fi
  stop_pid kube-controller-manager
  stop_pid kube-apiserver
  stop_pid containerd
  stop_pid etcd
  # A shim whose task could not be deleted: ours only, by the socket it was started for.
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $SOCK( |\$)" || true); do
    kill -9 "$pid" 2>/dev/null || true
  done
  # The kubelet's volume mounts (configMaps are tmpfs) and containerd's rootfs mounts.
  { grep -o " \($STATE\|$IMAGES\)/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done

  if ip link show gm-cni0 >/dev/null 2>&1; then ip link delete gm-cni0 2>/dev/null || true; fi
  rm -rf "$STATE"
  say "down; $STATE removed"
}

task_ids() { ctr --address "$SOCK" -n k8s.io tasks ls -q 2>/dev/null || true; }

cmd="${1:-}"
shift || true
case "$cmd" in
  up)
    [[ -n "$BIN" && -x "$BIN/kube-apiserver" ]] || fail "no Kubernetes binaries in $CACHE; run scripts/install-k8s.sh"
    [[ ! -s "$STATE/kube-apiserver.pid" ]] || fail "a cluster already runs from $STATE; run: $0 down"
    mkdir -p "$STATE"
    t0=$SECONDS
    certs
    control_plane
    [[ "${1:-}" == "--control-plane-only" ]] || node
    say "up in $((SECONDS - t0)) s; KUBECONFIG=$STATE/admin.kubeconfig"
    ;;
  images) images "$@" ;;
  down) down ;;
  env) echo "export KUBECONFIG=$STATE/admin.kubeconfig" ;;
  *) fail "usage: $0 up [--control-plane-only] | images IMAGE... | down | env" ;;
esac
