#!/usr/bin/env bash
# Set everything up and run the demo topology (edge-mesh) in the foreground; Ctrl-C stops it.
# Extra arguments go to `gatemesh up` (e.g. `bash scripts/demo.sh --topology mesh --detach`).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
bash scripts/setup.sh
export PATH="$REPO/.tools/bin:$PATH"
exec .venv/bin/gatemesh up --topology edge-mesh "$@"
