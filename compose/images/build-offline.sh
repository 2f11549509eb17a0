#!/usr/bin/env bash
# Build gatemesh's container images with no image registry at all:
#
#   gatemesh/debian-python:3.11  Debian bookworm + python3 (3.11), venv, pip, made with
#                                debootstrap from Debian's package mirror + `docker import`
#   gatemesh/app:dev             compose/images/app.Dockerfile on that base; dependencies
#                                from a wheelhouse built here on the host
#   gatemesh/toxiproxy:local     the installed toxiproxy-server, laid out like the public
#                                ghcr.io/shopify/toxiproxy image (ENTRYPOINT /toxiproxy)
#   gatemesh/jaeger:local        the jaeger binary scripts/install-jaeger.sh builds (v1.76.0),
#                                laid out like the public jaegertracing/jaeger:2.13.0
#   gatemesh/prometheus:local    Debian's prometheus package on the base, laid out like the
#                                public prom/prometheus:v2.42.0 (ENTRYPOINT /bin/prometheus)
#
# and writes the overrides that make compose use them to .gatemesh/images.env.
#
#   compose/images/build-offline.sh              # build what is missing or out of date
#   compose/images/build-offline.sh --rebuild    # debootstrap again, build with --no-cache
#   compose/images/build-offline.sh --only base|app|toxiproxy|jaeger|prometheus   (repeatable)
#
# Environment:
#   GATEMESH_EXTRAS=load           extras of gatemesh installed in the app image (Locust)
#   GATEMESH_APP_IMAGE=TAG         the app image's tag (default gatemesh/app:dev)
#   GATEMESH_DEBIAN_MIRROR=URL     Debian archive for debootstrap (default: the host's)
#   GATEMESH_TOXIPROXY=PATH        the toxiproxy-server to package (default: .tools/bin/,
#                                  then PATH, then scripts/install-toxiproxy.sh installs it)
#   GATEMESH_JAEGER=PATH           the jaeger binary to package (default: .tools/bin/jaeger,
#                                  else scripts/install-jaeger.sh builds it, ~8 min cold)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/compose/images"
STATE="$ROOT/.gatemesh"
CACHE="$STATE/cache"
WHEELHOUSE="$STATE/wheelhouse"

BASE_IMAGE=gatemesh/debian-python:3.11
# the app image's tag: another checkout on the same engine (a second worktree, a CI run beside
# a developer's) builds its own code under a tag of its own instead of retagging this one
APP_IMAGE="${GATEMESH_APP_IMAGE:-gatemesh/app:dev}"
TOXIPROXY_IMAGE=gatemesh/toxiproxy:local
JAEGER_IMAGE=gatemesh/jaeger:local
PROMETHEUS_IMAGE=gatemesh/prometheus:local
EXTRAS="${GATEMESH_EXTRAS-load}"   # set but empty: no extras

# The base image's recipe. Bump BASE_RECIPE when the customisation below changes: the
# recipe's hash is the image's label and the cached tarball's name, so a changed recipe
# is rebuilt and an unchanged one is reused.
SUITE=bookworm             # Debian 12: its python3 is 3.11, like python:3.11-slim's
BASE_PACKAGES=python3,python3-venv,python3-pip,ca-certificates
BASE_RECIPE=2

say() { echo "build-offline: $*"; }
fail() { echo "build-offline: error: $*" >&2; exit 1; }
usage_error() { echo "build-offline: error: $*" >&2; exit 2; }

rebuild=0
only=()
while (($#)); do
  case "$1" in
    --rebuild) rebuild=1 ;;
    --only) shift; [[ "${1:-}" =~ ^(base|app|toxiproxy|jaeger|prometheus)$ ]] \
              || usage_error "--only takes base, app, toxiproxy, jaeger or prometheus"; only+=("$1") ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) usage_error "unknown argument '$1'; see --help" ;;
  esac
  shift
done
wanted() { ((${#only[@]} == 0)) || [[ " ${only[*]} " == *" $1 "* ]]; }

# --- timings ---------------------------------------------------------------------------
timings=()
now() { date +%s.%N; }
record() { timings+=("$(awk -v name="$1" -v t0="$2" -v t1="$(now)" 'BEGIN { printf "%-44s %6.1f s", name, t1 - t0 }')"); }
t_all="$(now)"

mkdir -p "$CACHE" "$WHEELHOUSE"
# One build at a time per checkout: two engineers (or CI steps) building at once would
# race on the tarball, the wheelhouse and the tags.
exec 9>"$STATE/build-offline.lock"
flock -n 9 || { say "waiting for another build-offline.sh to finish ..."; flock 9; }

if ! docker info >/dev/null 2>&1; then
  say "no Docker engine answers; running scripts/install-docker.sh"
  # 9>&- : the daemon it starts must not inherit (and so hold forever) our lock.
  bash "$ROOT/scripts/install-docker.sh" 9>&- || fail "no Docker engine: scripts/install-docker.sh failed (see above)"
fi

# The classic builder: neither docker CLI here has the buildx plugin, and everything below
# is plain Dockerfile syntax, so both clients (Debian's 20.10 and a 28.x one) behave alike.
export DOCKER_BUILDKIT=0
build_flags=()
((rebuild)) && build_flags+=(--no-cache)

SUDO=()
[[ $EUID -eq 0 ]] || SUDO=(sudo -n)

docker_build() {
  # docker build, its output kept in .gatemesh/cache/<name>-build.log and shown on failure.
  local name="$1" log="$CACHE/$1-build.log"; shift
  if ! docker build "${build_flags[@]}" "$@" >"$log" 2>&1; then
    tail -n 25 "$log" >&2
    fail "docker build of the $name image failed; full output in $log"
  fi
}

# --- 1. the base image -----------------------------------------------------------------------
debian_mirror() {
  # The host's own Debian mirror (this machine reaches deb.debian.org and nothing else),
  # read from deb822 .sources files or one-line sources.list entries.
  local kind="$1" uri
  uri="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
          | awk -v k="$kind" '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ ("/" k "/?$")) { print $i; exit } }')"
  if [[ -z "$uri" ]]; then
    uri="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
            | awk -v k="$kind" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ ("^https?://.*/" k "/?$")) { print $i; exit } }')"
  fi
  echo "${uri:-http://deb.debian.org/$kind}"
}

customise_rootfs() {
  # Make the debootstrapped tree behave like python:3.11-slim where a Dockerfile can tell.
  local r="$1" mirror="$2" security="$3"
  # apt sources: the same archive, plus updates and security, so `apt-get install` in a
  # Dockerfile FROM this image works and gets fixed versions.
  rm -f "$r/etc/apt/sources.list"
  cat >"$r/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # Like Debian's own container images: no daemons started by package scripts, no
  # recommends, no docs or man pages, apt's caches emptied after every install.
  printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"; chmod +x "$r/usr/sbin/policy-rc.d"
  echo 'APT::Install-Recommends "false";' >"$r/etc/apt/apt.conf.d/90gatemesh-norecommends"
  cat >"$r/etc/apt/apt.conf.d/90gatemesh-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
EOF
  cat >"$r/etc/dpkg/dpkg.cfg.d/90gatemesh-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  # Bring in the point-release and security fixes published since the suite's release.
  # (In the chroot apt runs as root: debootstrap's folders are not _apt's to write.)
  local apt=(chroot "$r" apt-get -q -o APT::Sandbox::User=root)
  {
    "${apt[@]}" update
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" -y -o Dpkg::Options::=--force-confold dist-upgrade
    "${apt[@]}" clean
  } >>"$CACHE/debootstrap.log" 2>&1 || { tail -n 15 "$CACHE/debootstrap.log" >&2; return 1; }
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/log/apt/* "$r"/var/log/dpkg.log
  find "$r/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/locale/*/
  # python:3.11-slim has python, python3, pip and pip3 in /usr/local/bin, first on PATH.
  local name
  for name in python python3; do ln -sf /usr/bin/python3 "$r/usr/local/bin/$name"; done
  for name in pip pip3; do ln -sf /usr/bin/pip3 "$r/usr/local/bin/$name"; done
  # PEP 668: Debian marks its python3 "externally managed", so a bare `pip install`
  # refuses to run. python:3.11-slim has no such marker, and in a container image the
  # image is the environment: drop it so the same Dockerfile works on either base
  # (pip then installs under /usr/local, as it does on python:3.11-slim).
  rm -f "$r"/usr/lib/python3*/EXTERNALLY-MANAGED
  # No host identity baked in: Docker provides these at run time.
  : >"$r/etc/machine-id"; : >"$r/etc/resolv.conf"; echo localhost >"$r/etc/hostname"
  # (The standard library's .pyc files stay, as on python:3.11-slim: without them every
  # container start would compile it again.)
}

build_base() {
  local recipe hash tarball rootfs mirror security current
  recipe="suite=$SUITE packages=$BASE_PACKAGES recipe=$BASE_RECIPE"
  hash="$(echo "$recipe" | sha256sum | cut -c1-12)"
  tarball="$CACHE/debian-python-3.11-$hash.tar"
  current="$(docker image inspect --format '{{index .Config.Labels "org.gatemesh.recipe"}}' "$BASE_IMAGE" 2>/dev/null || true)"
  if ((!rebuild)) && [[ "$current" == "$hash" ]]; then
    say "base: $BASE_IMAGE is up to date (recipe $hash)"; return
  fi
  local changes=(
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    --change "ENV LANG=C.UTF-8"
    --change 'CMD ["python3"]'
    --change "LABEL org.gatemesh.recipe=$hash"
    --change "LABEL org.opencontainers.image.description=\"Debian $SUITE with python3 (3.11), venv and pip, by gatemesh's compose/images/build-offline.sh\""
  )
  if ((!rebuild)) && [[ -s "$tarball" ]]; then
    say "base: importing the cached root filesystem $tarball"
    docker import "${changes[@]}" "$tarball" "$BASE_IMAGE" >/dev/null
    return
  fi
  if ! command -v debootstrap >/dev/null; then
    say "base: installing debootstrap from Debian's packages"
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q --no-install-recommends debootstrap >/dev/null 2>&1 \
      || { "${SUDO[@]}" apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q --no-install-recommends debootstrap >/dev/null; } \
      || fail "could not install debootstrap (apt-get install debootstrap)"
  fi
  [[ $EUID -eq 0 ]] || fail "debootstrap needs root; run build-offline.sh as root"
  mirror="${GATEMESH_DEBIAN_MIRROR:-$(debian_mirror debian)}"
  security="$(debian_mirror debian-security)"
  rootfs="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
  # shellcheck disable=SC2064  # expand $rootfs now: it is a local
  trap "rm -rf '$rootfs'" EXIT
  say "base: debootstrap $SUITE from $mirror (a few minutes; log $CACHE/debootstrap.log)"
  # --cache-dir keeps the downloaded .debs, so a --rebuild does not fetch them again.
  mkdir -p "$CACHE/debs"
  if ! debootstrap --variant=minbase --include="$BASE_PACKAGES" --cache-dir="$CACHE/debs" \
         "$SUITE" "$rootfs" "$mirror" \
         >"$CACHE/debootstrap.log" 2>&1; then
    tail -n 15 "$CACHE/debootstrap.log" >&2
    fail "debootstrap failed; log $CACHE/debootstrap.log"
  fi
  say "base: customising (apt sources, updates, slim-style cleanup, python/pip links)"
  customise_rootfs "$rootfs" "$mirror" "$security" || fail "customising the root filesystem failed"
  "$rootfs/usr/bin/python3" --version 2>/dev/null | grep -q '^Python 3\.11\.' \
    || fail "the debootstrapped python3 is not 3.11 ($("$rootfs/usr/bin/python3" --version 2>&1))"
  rm -f "$CACHE"/debian-python-3.11-*.tar
  # /dev, /proc and /sys are the runtime's to fill, not the image's.
  tar --numeric-owner --xattrs -C "$rootfs" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
      -cf "$tarball.part" .
  mv "$tarball.part" "$tarball"
  rm -rf "$rootfs"; trap - EXIT
  docker import "${changes[@]}" "$tarball" "$BASE_IMAGE" >/dev/null
  say "base: built $BASE_IMAGE ($(docker run --rm "$BASE_IMAGE" python --version))"
}

# The other two images are built FROM the base: build it when it is missing, even if only
# they were asked for.
if wanted base || ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  t="$(now)"; build_base; record "base image ($BASE_IMAGE)" "$t"
fi

# --- 2. the wheelhouse -------------------------------------------------------------------------
build_wheelhouse() {
  local py reqs stamp
  # The wheels must suit the image's CPython 3.11: build them with a 3.11 here.
  py="$(command -v python3.11 || command -v python3)"
  "$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
    || fail "the wheelhouse needs Python 3.11 on the host (found $("$py" --version 2>&1)); install python3.11"
  reqs="$CACHE/requirements.txt"
  "$py" "$HERE/requirements.py" "$ROOT/pyproject.toml" "$EXTRAS" >"$reqs"
  # Up to date when neither the requirements nor the wheels changed since the last run
  # that completed (the stamp); else offline first: when every requirement already has a
  # wheel here, no index is asked; else PyPI.
  stamp="$WHEELHOUSE/.stamp"
  if [[ -s "$stamp" && "$(wheelhouse_state "$reqs")" == "$(cat "$stamp")" ]]; then
    say "wheelhouse: up to date ($(ls "$WHEELHOUSE"/*.whl | wc -l) wheels in $WHEELHOUSE)"
    return
  fi
  if "$py" -m pip wheel -q --no-index --find-links "$WHEELHOUSE" -w "$WHEELHOUSE" -r "$reqs" >/dev/null 2>&1; then
    say "wheelhouse: complete without an index ($(ls "$WHEELHOUSE"/*.whl | wc -l) wheels in $WHEELHOUSE)"
  else
    say "wheelhouse: pip wheel of gatemesh's requirements (extras: ${EXTRAS:-none}) into $WHEELHOUSE"
    "$py" -m pip wheel -q --find-links "$WHEELHOUSE" -w "$WHEELHOUSE" -r "$reqs" \
      || fail "pip wheel failed (it needs PyPI the first time)"
  fi
  wheelhouse_state "$reqs" >"$stamp"
}

wheelhouse_state() { { cat "$1"; ls "$WHEELHOUSE"; } | sha256sum | cut -c1-16; }

if wanted app; then
  t="$(now)"; build_wheelhouse; record "wheelhouse (.gatemesh/wheelhouse)" "$t"
  t="$(now)"
  say "app: docker build -f compose/images/app.Dockerfile (BASE_IMAGE=$BASE_IMAGE)"
  docker_build app -f "$HERE/app.Dockerfile" \
    --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg EXTRAS="$EXTRAS" \
    -t "$APP_IMAGE" "$ROOT"
  record "app image ($APP_IMAGE)" "$t"
fi

# --- 3. the Toxiproxy image --------------------------------------------------------------------
find_toxiproxy() {
  if [[ -n "${GATEMESH_TOXIPROXY:-}" ]]; then echo "$GATEMESH_TOXIPROXY"
  elif [[ -x "$ROOT/.tools/bin/toxiproxy-server" ]]; then echo "$ROOT/.tools/bin/toxiproxy-server"
  else command -v toxiproxy-server || true
  fi
}

build_toxiproxy() {
  local server cli ctx from version
  server="$(find_toxiproxy)"
  if [[ -z "$server" ]]; then
    say "toxiproxy: no toxiproxy-server found; running scripts/install-toxiproxy.sh"
    bash "$ROOT/scripts/install-toxiproxy.sh" || fail "toxiproxy-server is not installed (scripts/install-toxiproxy.sh failed)"
    server="$(find_toxiproxy)"
  fi
  [[ -x "$server" ]] || fail "toxiproxy-server not found or not executable: '$server'"
  version="$("$server" -version 2>/dev/null | awk '{print $NF}')"
  ctx="$CACHE/toxiproxy-context"
  rm -rf "$ctx"; mkdir -p "$ctx"
  cp "$server" "$ctx/toxiproxy"
  cli="$(dirname "$server")/toxiproxy-cli"
  [[ -x "$cli" ]] && cp "$cli" "$ctx/toxiproxy-cli"
  # The public image is FROM scratch: its binary is built with CGO off, so static. A
  # `go install` with cgo on (the default where a C compiler exists) links libc
  # dynamically, and scratch has no libc: then the image is FROM the Debian base instead.
  if ldd "$server" >/dev/null 2>&1; then from="$BASE_IMAGE"; else from=scratch; fi
  say "toxiproxy: packaging $server (version $version, FROM $from)"
  docker_build toxiproxy -f "$HERE/toxiproxy.Dockerfile" \
    --build-arg TOXIPROXY_BASE="$from" --label "org.gatemesh.toxiproxy-version=$version" \
    -t "$TOXIPROXY_IMAGE" "$ctx"
  rm -rf "$ctx"
}

if wanted toxiproxy; then
  t="$(now)"; build_toxiproxy; record "toxiproxy image ($TOXIPROXY_IMAGE)" "$t"
fi

# --- 4. the Jaeger image ------------------------------------------------------------------------
find_jaeger() {
  if [[ -n "${GATEMESH_JAEGER:-}" ]]; then echo "$GATEMESH_JAEGER"
  elif [[ -x "$ROOT/.tools/bin/jaeger" ]]; then echo "$ROOT/.tools/bin/jaeger"
  else command -v jaeger || true
  fi
}

build_jaeger() {
  local binary ctx from version
  binary="$(find_jaeger)"
  if [[ -z "$binary" ]]; then
    say "jaeger: no jaeger binary found; running scripts/install-jaeger.sh (~8 min the first time)"
    bash "$ROOT/scripts/install-jaeger.sh" 9>&- || fail "jaeger is not installed (scripts/install-jaeger.sh failed)"
    binary="$(find_jaeger)"
  fi
  [[ -x "$binary" ]] || fail "jaeger not found or not executable: '$binary'"
  version="$(cat "$binary.version" 2>/dev/null || "$binary" version 2>/dev/null | head -1 || echo unknown)"
  # Same image, same binary: skip the copy of ~120 MB into a build context.
  if [[ "$(docker image inspect --format '{{index .Config.Labels "org.gatemesh.jaeger-sha"}}' "$JAEGER_IMAGE" 2>/dev/null || true)" \
        == "$(sha256sum "$binary" | cut -c1-16)" ]] && ((!rebuild)); then
    say "jaeger: $JAEGER_IMAGE is up to date ($binary, $version)"; return
  fi
  ctx="$CACHE/jaeger-context"
  rm -rf "$ctx"; mkdir -p "$ctx"
  cp "$binary" "$ctx/jaeger"
  if ldd "$binary" >/dev/null 2>&1; then from="$BASE_IMAGE"; else from=scratch; fi
  say "jaeger: packaging $binary ($version, FROM $from)"
  docker_build jaeger -f "$HERE/jaeger.Dockerfile" \
    --build-arg JAEGER_BASE="$from" --label "org.gatemesh.jaeger-version=$version" \
    --label "org.gatemesh.jaeger-sha=$(sha256sum "$binary" | cut -c1-16)" \
    -t "$JAEGER_IMAGE" "$ctx"
  rm -rf "$ctx"
}

if wanted jaeger; then
  t="$(now)"; build_jaeger; record "jaeger image ($JAEGER_IMAGE)" "$t"
fi

# --- 5. the Prometheus image -----------------------------------------------------------------------
if wanted prometheus; then
  t="$(now)"
  ctx="$CACHE/prometheus-context"
  rm -rf "$ctx"; mkdir -p "$ctx"   # the Dockerfile copies nothing: the package comes from Debian
  say "prometheus: docker build -f compose/images/prometheus.Dockerfile (Debian's package on $BASE_IMAGE)"
  docker_build prometheus -f "$HERE/prometheus.Dockerfile" --build-arg BASE_IMAGE="$BASE_IMAGE" \
    -t "$PROMETHEUS_IMAGE" "$ctx"
  rm -rf "$ctx"
  record "prometheus image ($PROMETHEUS_IMAGE)" "$t"
fi

# --- 6. what to tell compose ----------------------------------------------------------------------
cat >"$STATE/images.env" <<EOF
# Written by compose/images/build-offline.sh: images built here with no registry.
BASE_IMAGE=$BASE_IMAGE
TOXIPROXY_IMAGE=$TOXIPROXY_IMAGE
APP_IMAGE=$APP_IMAGE
JAEGER_IMAGE=$JAEGER_IMAGE
PROMETHEUS_IMAGE=$PROMETHEUS_IMAGE
EOF
record "total" "$t_all"

echo
say "timings:"
printf '  %s\n' "${timings[@]}"
say "images:"
for image in "$BASE_IMAGE" "$APP_IMAGE" "$TOXIPROXY_IMAGE" "$JAEGER_IMAGE" "$PROMETHEUS_IMAGE"; do
  docker image inspect --format '{{.Size}}' "$image" 2>/dev/null \
    | awk -v name="$image" '{ printf "  %-44s %6.0f MB\n", name, $1 / 1e6 }'
done
say "use them with (also in .gatemesh/images.env):"
echo "  BASE_IMAGE=$BASE_IMAGE TOXIPROXY_IMAGE=$TOXIPROXY_IMAGE APP_IMAGE=$APP_IMAGE JAEGER_IMAGE=$JAEGER_IMAGE PROMETHEUS_IMAGE=$PROMETHEUS_IMAGE"
