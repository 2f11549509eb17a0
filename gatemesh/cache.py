"""Where gatemesh keeps what it builds once per machine: one root for every kind of build.

    $GATEMESH_CACHE/<kind>, default ~/.cache/gatemesh/<kind>

The install scripts use the same rule (install-jaeger.sh's jaeger/, install-k8s.sh's k8s/),
so a clean clone on the same machine finds the builds an earlier one made. A kind may have
its own override as well (GATEMESH_K8S_CACHE for the Kubernetes binaries).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT_ENV = "GATEMESH_CACHE"


def cache_dir(kind: str, override_env: str = "") -> Path:
    """The directory of one kind of build; `override_env`, when set, names it whole."""
    if override_env and os.environ.get(override_env):
        return Path(os.environ[override_env])
    base = os.environ.get(ROOT_ENV)
    if not base:
        try:
            base = str(Path.home() / ".cache" / "gatemesh")
        except (RuntimeError, KeyError):  # no HOME and no passwd entry (a container's bare uid)
            base = "/nonexistent"
    return Path(base) / kind
