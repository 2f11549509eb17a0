"""A cluster, through ``kubectl`` (what a user has; no client library to match its version).

    kube = Kubectl.from_env()                     # KUBECONFIG, kubectl on PATH or in the cache
    kube.apply(text)                              # server-side apply of a rendering
    kube.json("get", "pods", namespace="gatemesh-edge-mesh")
    kube.wait_rollout("gatemesh-edge-mesh", timeout_s=300)

Every failure is a ``ClusterError`` whose message is one sentence plus kubectl's own.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gatemesh.cache import cache_dir

FIELD_MANAGER = "gatemesh"  # the owner of every field we apply (server-side apply)
K8S_CACHE_ENV = "GATEMESH_K8S_CACHE"  # scripts/install-k8s.sh's own override
DEFAULT_STATE = "/tmp/gatemesh-k8s"  # scripts/k8s/cluster.sh's default GATEMESH_K8S_STATE
CALL_TIMEOUT_S = 60.0  # one kubectl call; waits pass their own


class ClusterError(Exception):
    """A cluster call failed; the message is one sentence."""


def find_kubectl() -> str:
    cache = cache_dir("k8s", K8S_CACHE_ENV)
    found = shutil.which("kubectl") or next(iter(sorted(glob.glob(str(cache / "*" / "bin" / "kubectl")))), None)
    if not found:
        raise ClusterError(f"no kubectl on PATH or in {cache}; run scripts/install-k8s.sh")
    return found


@dataclass(frozen=True)
class Kubectl:
    binary: str  # the kubectl executable
    kubeconfig: str  # the cluster's kubeconfig file

    @classmethod
    def from_env(cls) -> Kubectl:
        state = os.environ.get("GATEMESH_K8S_STATE", DEFAULT_STATE)
        config = os.environ.get("KUBECONFIG") or f"{state}/admin.kubeconfig"
        if not Path(config).exists():
            raise ClusterError(f"no kubeconfig at {config}; bring a cluster up (scripts/k8s/cluster.sh up)")
        return cls(find_kubectl(), config)

    def run(
        self, *args: str, namespace: str | None = None, stdin: str | None = None, timeout_s: float = CALL_TIMEOUT_S
    ) -> str:
        argv = [self.binary, "--kubeconfig", self.kubeconfig]
        if namespace:
            argv += ["-n", namespace]
        argv += list(args)
        try:
            done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise ClusterError(f"kubectl {' '.join(args[:3])} did not finish within {timeout_s:.0f}s") from None
        if done.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(args[:3])} failed: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def json(self, *args: str, namespace: str | None = None) -> Any:
        return json.loads(self.run(*args, "-o", "json", namespace=namespace))

    def apply(self, text: str) -> str:
        """Server-side apply: the API server merges and owns the fields, as in any cluster."""
        return self.run("apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-f", "-", stdin=text)

    def pods(self, namespace: str, selector: str | None = None) -> dict[str, dict[str, Any]]:
        args = ["get", "pods"] + (["-l", selector] if selector else [])
        return {p["metadata"]["name"]: p for p in self.json(*args, namespace=namespace)["items"]}

    def wait_rollout(self, namespace: str, timeout_s: float) -> None:
        """Every Deployment and StatefulSet of the namespace rolled out (every pod Ready)."""
        deadline = time.monotonic() + timeout_s
        for kind in ("deployment", "statefulset"):
            for name in self.run("get", kind, "-o", "name", namespace=namespace).split():
                left = max(1.0, deadline - time.monotonic())
                self.run("rollout", "status", name, f"--timeout={left:.0f}s", namespace=namespace, timeout_s=left + 10)


def pod_ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in pod.get("status", {}).get("conditions", [])
    )
