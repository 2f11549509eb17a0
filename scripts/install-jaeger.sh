#!/usr/bin/env bash
# Jaeger v2 (the trace backend), built from the Go module proxy: the jaeger command of
# github.com/jaegertracing/jaeger v1.76.0, a `tool` of the project's own module in
# scripts/jaeger (go.sum pins every module). About 8 minutes on 2 cores the first time.
# The binary is kept in a per-user cache keyed by the version and go.sum's hash
# ($GATEMESH_CACHE, default ~/.cache/gatemesh), so another clone of the repository on the
# same machine (CI's clean clone) copies it instead of building again; skipped when
# .tools/bin/jaeger already reports this version.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="v1.76.0"
TARGET="$REPO/.tools/bin/jaeger"
say() { echo "install-jaeger: $*"; }
fail() { echo "install-jaeger: error: $*" >&2; exit 1; }

if [[ -x "$TARGET" && -f "$TARGET.version" && "$(cat "$TARGET.version")" == "$VERSION" ]]; then
  say "jaeger $VERSION present ($TARGET)"
  exit 0
fi
key="$VERSION-$(sha256sum "$REPO/scripts/jaeger/go.sum" | cut -c1-12)"
CACHED="${GATEMESH_CACHE:-$HOME/.cache/gatemesh}/jaeger/$key/jaeger"
mkdir -p "$REPO/.tools/bin"
if [[ -x "$CACHED" ]]; then
  cp "$CACHED" "$TARGET.tmp" && mv "$TARGET.tmp" "$TARGET"
  echo "$VERSION" >"$TARGET.version"
  say "jaeger $VERSION from the cache ($CACHED)"
  exit 0
fi
GO="$(command -v go || true)"
[[ -n "$GO" ]] || { [[ -x /usr/local/go/bin/go ]] && GO=/usr/local/go/bin/go; } || true
[[ -n "$GO" ]] || fail "Go is needed to build Jaeger (the Go toolchain, or apt-get install golang-go)"
mkdir -p "$REPO/.tools/bin" "$REPO/.gatemesh"
log="$REPO/.gatemesh/jaeger-build.log"
say "building jaeger $VERSION from the Go module proxy (~8 min on 2 cores; log: $log) ..."
started=$SECONDS
if ! (cd "$REPO/scripts/jaeger" && CGO_ENABLED=0 GOFLAGS=-mod=readonly "$GO" build -trimpath -ldflags "-s -w" \
      -o "$TARGET.tmp" github.com/jaegertracing/jaeger/cmd/jaeger) >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  fail "the Jaeger build failed (log: $log)"
fi
mkdir -p "$(dirname "$CACHED")"
cp "$TARGET.tmp" "$CACHED.tmp" && mv "$CACHED.tmp" "$CACHED"
mv "$TARGET.tmp" "$TARGET"
echo "$VERSION" >"$TARGET.version"
say "jaeger $VERSION installed in $TARGET in $((SECONDS - started)) s"
