#!/usr/bin/env bash
# Docker Compose v2 (`docker compose`, what users run), built from the Go module proxy:
# github.com/docker/compose/v2 v2.40.3 as a dependency of the project's own module in
# scripts/compose-v2 (compose's go.mod has exclude directives, so `go install` refuses
# it; go.sum pins every module). About 4 minutes on 2 cores the first time; skipped when
# the plugin already reports this version. Installs into the Docker CLI's plugin folder.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="v2.40.3"
say() { echo "install-compose-v2: $*"; }
fail() { echo "install-compose-v2: error: $*" >&2; exit 1; }

if [[ $(id -u) -eq 0 ]]; then PLUGINS=/usr/local/lib/docker/cli-plugins; else PLUGINS="$HOME/.docker/cli-plugins"; fi
TARGET="$PLUGINS/docker-compose"
if [[ -x "$TARGET" ]] && "$TARGET" version --short 2>/dev/null | grep -qx "${VERSION#v}"; then
  say "docker compose ${VERSION#v} present ($TARGET)"
  exit 0
fi
GO="$(command -v go || true)"
[[ -n "$GO" ]] || { [[ -x /usr/local/go/bin/go ]] && GO=/usr/local/go/bin/go; } || true
[[ -n "$GO" ]] || fail "Go is needed to build Compose v2 (apt-get install golang-go, or the Go toolchain)"
mkdir -p "$PLUGINS" "$REPO/.gatemesh"
log="$REPO/.gatemesh/compose-v2-build.log"
say "building docker compose $VERSION from the Go module proxy (~4 min on 2 cores; log: $log) ..."
started=$SECONDS
if ! (cd "$REPO/scripts/compose-v2" && CGO_ENABLED=0 GOFLAGS=-mod=readonly "$GO" build -trimpath \
      -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$VERSION" \
      -o "$TARGET.tmp" github.com/docker/compose/v2/cmd) >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  fail "the Compose v2 build failed (log: $log)"
fi
mv "$TARGET.tmp" "$TARGET"
say "docker compose $("$TARGET" version --short) installed in $TARGET in $((SECONDS - started)) s"
