#!/usr/bin/env bash
# Make a Docker engine answer on this machine: install Debian's docker.io and
# docker-compose when missing, start dockerd in the background when it is not running,
# and wait until `docker info` answers. Idempotent: when `docker info` already works it
# does nothing. Run as root (CI runs `bash .ci/run` as root) or with passwordless sudo.
#
#   scripts/install-docker.sh            # install if needed, start, wait (60 s at most)
#
# Environment:
#   GATEMESH_DOCKER_WAIT_S=60            how long to wait for `docker info` to answer
#   GATEMESH_DOCKER_STORAGE_DRIVER=...   force a storage driver (default: probed, below)
#
# Files: .gatemesh/dockerd.log (the daemon's output), .gatemesh/dockerd.pid (its pid).
#
# What this machine kind is like (checked 2026-11-29, see docs/docker-offline.md):
# - PID 1 is not systemd, so `systemctl start docker` cannot work: dockerd is started by
#   hand, and it starts its own containerd (under /var/run/docker/containerd).
# - A newer docker CLI (28.x, client only) may sit at /usr/local/bin/docker, ahead of
#   Debian's /usr/bin/docker (20.10) on PATH. Both work against Debian's 20.10 daemon:
#   the 28.x client negotiates the API down to 1.41. Neither has the buildx or compose v2
#   plugins, so `docker build` uses the classic builder and compose is `docker-compose`
#   (Debian's v1.29).
# - No image registry is reachable: images are built offline by
#   compose/images/build-offline.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$ROOT/.gatemesh"
LOG="$STATE/dockerd.log"
PIDFILE="$STATE/dockerd.pid"
WAIT_S="${GATEMESH_DOCKER_WAIT_S:-60}"
PACKAGES=(docker.io docker-compose)

say() { echo "install-docker: $*"; }
fail() {
  echo "install-docker: error: $*" >&2
  if [[ -s "$LOG" ]]; then
    echo "--- last lines of $LOG ---" >&2
    tail -n 20 "$LOG" >&2
  fi
  exit 1
}

if docker info >/dev/null 2>&1; then
  say "engine already answers (server $(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?')); nothing to do"
  exit 0
fi

SUDO=()
if [[ $EUID -ne 0 ]]; then
  command -v sudo >/dev/null && sudo -n true 2>/dev/null \
    || fail "the Docker engine is not running and starting it needs root; run this script as root or with passwordless sudo"
  SUDO=(sudo -n)
fi

mkdir -p "$STATE"

# --- 1. packages -----------------------------------------------------------------------
missing=()
for pkg in "${PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
if ((${#missing[@]})); then
  say "installing ${missing[*]} from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  # --no-install-recommends: the recommends (apparmor, needrestart, git, ...) are not
  # needed to run the engine, and needrestart would try to restart services.
  "${SUDO[@]}" apt-get update -q >/dev/null || fail "apt-get update failed"
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || fail "apt-get install ${missing[*]} failed"
fi
command -v dockerd >/dev/null || [[ -x /usr/sbin/dockerd ]] || fail "dockerd is not installed after apt-get install docker.io"
DOCKERD="$(command -v dockerd || echo /usr/sbin/dockerd)"

# --- 2. is a daemon already running (but not answering yet)? ----------------------------
running_pid=""
if [[ -s "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null \
   && [[ "$(cat "/proc/$(cat "$PIDFILE")/comm" 2>/dev/null)" == dockerd ]]; then
  running_pid="$(cat "$PIDFILE")"
elif pid="$(pgrep -x dockerd | head -n 1)" && [[ -n "$pid" ]]; then
  running_pid="$pid"   # started by someone else (another script, systemd): just wait for it
fi

# --- 3. daemon flags, chosen by probing this machine ---------------------------------------
storage_driver() {
  # overlay2 is the fast one (copy-on-write layers). It needs the kernel's overlay
  # filesystem and a backing filesystem that can be an overlay lower/upper dir; it fails
  # when /var/lib/docker itself sits on an overlay (Docker-in-Docker). Probe it for real
  # with a throwaway mount; fall back to vfs (full copies per layer: slow and big, but it
  # works anywhere).
  if [[ -n "${GATEMESH_DOCKER_STORAGE_DRIVER:-}" ]]; then
    echo "$GATEMESH_DOCKER_STORAGE_DRIVER"; return
  fi
  local base=/var/lib/docker probe ok=1
  "${SUDO[@]}" mkdir -p "$base"
  probe="$("${SUDO[@]}" mktemp -d "$base/.gatemesh-overlay-probe.XXXXXX")"
  "${SUDO[@]}" mkdir -p "$probe/lower" "$probe/upper" "$probe/work" "$probe/merged"
  if "${SUDO[@]}" mount -t overlay overlay \
       -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" "$probe/merged" 2>/dev/null; then
    "${SUDO[@]}" umount "$probe/merged"
  else
    ok=0
  fi
  "${SUDO[@]}" rm -rf "$probe"
  if ((ok)); then echo overlay2; else echo vfs; fi
}

iptables_works() {
  # Bridge networking needs the nat table (MASQUERADE, DNAT for published ports). On this
  # kind `iptables` is the nf_tables flavour and its nat table works; a kernel without
  # netfilter would make dockerd die at start with "failed to create NAT chain DOCKER".
  "${SUDO[@]}" iptables -t nat -L -n >/dev/null 2>&1
}

if [[ -z "$running_pid" ]]; then
  driver="$(storage_driver)"
  flags=(
    --host=unix:///var/run/docker.sock
    --storage-driver="$driver"
    # `docker run -p 8474:8474` binds 127.0.0.1, not 0.0.0.0, so nothing we run is
    # reachable from outside the machine by accident. This covers the default bridge
    # only: on a user-defined network (every compose project's) a port binds 0.0.0.0
    # unless the port says `127.0.0.1:8474:8474` or the network has the driver option
    # com.docker.network.bridge.host_binding_ipv4=127.0.0.1 (both checked here).
    --ip=127.0.0.1
  )
  if iptables_works; then
    net_note="bridge networking with iptables"
  else
    # Without iptables there is no NAT: containers on the bridge still reach each other
    # and published ports still work through docker-proxy (the userland proxy), but
    # containers cannot reach outside the machine (which they never need here).
    flags+=(--iptables=false --ip-masq=false)
    net_note="iptables unusable: --iptables=false (no NAT; published ports via docker-proxy)"
  fi
  say "starting dockerd (storage driver $driver; $net_note); log $LOG"
  echo "=== $(date -u +%FT%TZ) install-docker: $DOCKERD ${flags[*]}" >>"$LOG"
  # setsid + nohup: the daemon outlives this script and the shell that ran it. setsid -w
  # keeps a parent alive for as long as dockerd runs if setsid had to fork, so $! is a
  # pid whose life is dockerd's; the daemon's own pid is read from its pidfile below.
  "${SUDO[@]}" setsid -w nohup "$DOCKERD" "${flags[@]}" >>"$LOG" 2>&1 </dev/null &
  running_pid=$!
else
  say "dockerd already running (pid $running_pid); waiting for it to answer"
fi

# --- 4. wait until the engine answers ---------------------------------------------------------
deadline=$((SECONDS + WAIT_S))
until docker info >/dev/null 2>&1; do
  if ! kill -0 "$running_pid" 2>/dev/null; then
    fail "dockerd (pid $running_pid) exited before answering"
  fi
  if ((SECONDS >= deadline)); then
    fail "dockerd (pid $running_pid) did not answer \`docker info\` within ${WAIT_S}s"
  fi
  sleep 0.5
done
daemon_pid="$(cat /var/run/docker.pid 2>/dev/null || echo "$running_pid")"
echo "$daemon_pid" >"$PIDFILE"
say "engine ready: server $(docker version --format '{{.Server.Version}}'), storage $(docker info --format '{{.Driver}}'), dockerd pid $daemon_pid"
