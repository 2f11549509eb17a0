#!/usr/bin/env bash
# A single-node Kubernetes built from the registries this machine reaches, for the k8s
# tier (tests/k8s, scripts/k8s-tier.sh):
# - kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kubectl from
#   k8s.io/kubernetes v1.34.2, tools of the project's own module in scripts/k8s (its
#   go.mod replaces each k8s.io/* staging module by its published v0.34.2), built by ONE
#   `go build` so the shared packages compile once;
# - etcd from go.etcd.io/etcd/server/v3 (scripts/k8s/etcd: a module of its own, so etcd's
#   dependency versions never move the Kubernetes build's);
# - containerd (with its CRI plugin), runc and the CNI plugins from Debian's packages.
# Binaries go to a cache keyed by version ($GATEMESH_K8S_CACHE, default
# ${GATEMESH_CACHE:-~/.cache/gatemesh}/k8s/<version>/bin, the rule of gatemesh/cache.py)
# that a clean clone on the same machine reuses;
# each step is skipped when its output is already there.
# Usage: install-k8s.sh [--control-plane-only]   (etcd + apiserver + controllers only)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
K8S_VERSION="v1.34.2"
ETCD_VERSION="v3.6.6"
CACHE="${GATEMESH_K8S_CACHE:-${GATEMESH_CACHE:-$HOME/.cache/gatemesh}/k8s}"
BIN="$CACHE/$K8S_VERSION-etcd-$ETCD_VERSION/bin"
say() { echo "install-k8s: $*"; }
fail() { echo "install-k8s: error: $*" >&2; exit 1; }

control_plane_only=0
[[ "${1:-}" == "--control-plane-only" ]] && control_plane_only=1

GO="$(command -v go || true)"
[[ -n "$GO" ]] || { [[ -x /usr/local/go/bin/go ]] && GO=/usr/local/go/bin/go; } || true
mkdir -p "$BIN" "$REPO/.gatemesh" "$REPO/.tools/bin"

go_build() { # $1 = module dir, $2 = log name, rest = packages; into $BIN, at the lowest priority
  local dir="$1" log="$REPO/.gatemesh/$2-build.log" started=$SECONDS
  shift 2
  [[ -n "$GO" ]] || fail "Go is needed to build $* (the Go toolchain, or apt-get install golang-go)"
  say "building $* (log: $log) ..."
  if ! (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=readonly nice -n 19 "$GO" build -trimpath \
        -ldflags "-s -w" -o "$BIN/" "$@") >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    fail "the build failed (log: $log)"
  fi
  say "built in $((SECONDS - started)) s"
}

if [[ ! -x "$BIN/etcd" ]]; then
  # The etcd server module's main package is its root; `go build -o DIR/` names it "server".
  go_build "$REPO/scripts/k8s/etcd" etcd go.etcd.io/etcd/server/v3
  mv "$BIN/server" "$BIN/etcd"
fi

wanted=(kube-apiserver kube-controller-manager)
((control_plane_only)) || wanted+=(kube-scheduler kubelet kubectl)
missing=()
for cmd in "${wanted[@]}"; do [[ -x "$BIN/$cmd" ]] || missing+=("k8s.io/kubernetes/cmd/$cmd"); done
if ((${#missing[@]})); then
  # The version the binaries report (kubectl version, the API server's /version).
  ldflags="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=34"
  log="$REPO/.gatemesh/kubernetes-build.log" started=$SECONDS
  say "building ${missing[*]##*/} from k8s.io/kubernetes $K8S_VERSION (~15 min cold on 2 cores; log: $log) ..."
  if ! (cd "$REPO/scripts/k8s" && CGO_ENABLED=0 GOFLAGS=-mod=readonly nice -n 19 "$GO" build -trimpath \
        -ldflags "-s -w $ldflags" -o "$BIN/" "${missing[@]}") >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    fail "the Kubernetes build failed (log: $log)"
  fi
  say "kubernetes binaries built in $((SECONDS - started)) s"
fi
if ((!control_plane_only)) && [[ ! -x "$BIN/pause" ]]; then
  # The pod sandbox's process: Kubernetes' own pause.c (build/pause/linux in the module
  # just built), compiled as its Makefile does; scripts/k8s/cluster.sh makes it an image.
  src="$("$GO" env GOMODCACHE)/k8s.io/kubernetes@$K8S_VERSION/build/pause/linux/pause.c"
  [[ -f "$src" ]] || (cd "$REPO/scripts/k8s" && GOFLAGS=-mod=readonly "$GO" mod download k8s.io/kubernetes)
  command -v gcc >/dev/null || fail "gcc is needed to build the pause binary (apt-get install gcc libc6-dev)"
  gcc -Os -Wall -Werror -static -DVERSION="v3.10.1-gatemesh" -o "$BIN/pause" "$src" || fail "could not build pause from $src"
  say "pause built from $src"
fi
for cmd in etcd "${wanted[@]}"; do ln -sf "$BIN/$cmd" "$REPO/.tools/bin/$cmd"; done

if ((!control_plane_only)); then
  need=()
  command -v containerd >/dev/null || need+=(containerd)
  command -v runc >/dev/null || need+=(runc)
  [[ -x /usr/lib/cni/bridge || -x /opt/cni/bin/bridge ]] || need+=(containernetworking-plugins)
  command -v iptables >/dev/null || need+=(iptables)
  if ((${#need[@]})); then
    [[ $(id -u) -eq 0 ]] || fail "installing ${need[*]} needs root (apt-get install ${need[*]})"
    say "apt-get install ${need[*]} ..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null 2>&1 || {
      DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
    }
  fi
fi
say "ready in $BIN ($("$BIN/kube-apiserver" --version 2>/dev/null || echo kube-apiserver))"
