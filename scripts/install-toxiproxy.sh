#!/usr/bin/env bash
# Make sure the real Toxiproxy (Go) is available to gatemesh.
#
# Order of preference:
#   1. already there: $GATEMESH_TOXIPROXY, <repo>/.tools/bin/, or `toxiproxy-server` on PATH
#   2. `go install` of the pinned version into <repo>/.tools/bin/   (needs Go, ~1 min)
#   3. the release binary for this OS/arch from GitHub releases     (needs internet)
#   4. otherwise: one line saying how to install it, exit 1
#
# gatemesh looks for the server in the same places, in the same order.
set -euo pipefail

# The newest tag the Go module proxy serves for the v2 module path.
TOXIPROXY_VERSION="${TOXIPROXY_VERSION:-v2.5.0}"
MODULE="github.com/Shopify/toxiproxy/v2"

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$REPO/.tools/bin"

say() { echo "install-toxiproxy: $*"; }
fail() { echo "install-toxiproxy: error: $*" >&2; exit 1; }

if [[ -n "${GATEMESH_TOXIPROXY:-}" ]]; then
  [[ -x "$GATEMESH_TOXIPROXY" ]] || fail "GATEMESH_TOXIPROXY=$GATEMESH_TOXIPROXY is not an executable file; fix or unset it"
  say "using $GATEMESH_TOXIPROXY (GATEMESH_TOXIPROXY)"
  exit 0
fi
if [[ -x "$BIN/toxiproxy-server" ]]; then
  say "already installed: $BIN/toxiproxy-server"
  exit 0
fi
if found="$(command -v toxiproxy-server 2>/dev/null)"; then
  say "already on PATH: $found"
  exit 0
fi

mkdir -p "$BIN"

install_with_go() {
  local tmp
  tmp="$(mktemp -d "$REPO/.tools/go-install.XXXXXX")"
  say "building Toxiproxy $TOXIPROXY_VERSION with $(go version | cut -d' ' -f3) (about a minute) ..."
  local ldflags="-X $MODULE.Version=${TOXIPROXY_VERSION#v}"
  if GOBIN="$tmp" go install -ldflags "$ldflags" \
       "$MODULE/cmd/server@$TOXIPROXY_VERSION" "$MODULE/cmd/cli@$TOXIPROXY_VERSION" >"$tmp/go.log" 2>&1; then
    mv -f "$tmp/server" "$BIN/toxiproxy-server"
    mv -f "$tmp/cli" "$BIN/toxiproxy-cli"
    rm -rf "$tmp"
    return 0
  fi
  say "go install failed:"; tail -n 5 "$tmp/go.log" >&2
  rm -rf "$tmp"
  return 1
}

install_from_release() {
  local os arch url
  os="$(uname -s | tr '[:upper:]' '[:lower:]')"
  case "$(uname -m)" in
    x86_64|amd64) arch=amd64 ;;
    aarch64|arm64) arch=arm64 ;;
    armv7l|armv6l) arch=armv7 ;;
    *) return 1 ;;
  esac
  local base="https://github.com/Shopify/toxiproxy/releases/download/$TOXIPROXY_VERSION"
  local fetch
  if command -v curl >/dev/null 2>&1; then fetch="curl -fsSL --connect-timeout 10 --max-time 120 -o"
  elif command -v wget >/dev/null 2>&1; then fetch="wget -q --timeout=20 -O"
  else return 1; fi
  say "downloading Toxiproxy $TOXIPROXY_VERSION for $os/$arch ..."
  local name
  for name in server cli; do
    url="$base/toxiproxy-$name-$os-$arch"
    if ! $fetch "$BIN/toxiproxy-$name.part" "$url" 2>/dev/null; then
      rm -f "$BIN/toxiproxy-$name.part"
      say "could not download $url"
      return 1
    fi
    chmod +x "$BIN/toxiproxy-$name.part"
    mv -f "$BIN/toxiproxy-$name.part" "$BIN/toxiproxy-$name"
  done
}

if command -v go >/dev/null 2>&1 && install_with_go; then
  :
elif install_from_release; then
  :
else
  fail "toxiproxy-server is not installed and could not be built or downloaded; install Go (https://go.dev/dl/) and re-run scripts/setup.sh, or put toxiproxy-server on PATH (e.g. 'brew install toxiproxy'), or set GATEMESH_TOXIPROXY=/path/to/toxiproxy-server"
fi

"$BIN/toxiproxy-server" -version >/dev/null 2>&1 || fail "$BIN/toxiproxy-server was installed but does not run on this machine; delete $REPO/.tools and re-run scripts/setup.sh"
say "installed $BIN/toxiproxy-server and $BIN/toxiproxy-cli ($TOXIPROXY_VERSION)"
