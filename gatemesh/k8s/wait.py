"""``python -m gatemesh.k8s.wait --namespace NS``: until a deployed topology is ready,
as the process runner and compose wait: every pod Ready (its probes pass), then every
instance registered with the control plane at its Toxiproxy address."""

from __future__ import annotations

import argparse
import sys
import time

from gatemesh.runner.webclient import HttpError, json_request

from .backend import K8sBackend
from .cluster import ClusterError

PROG = "gatemesh.k8s.wait"
POLL_S = 0.25


def missing_registrations(backend: K8sBackend) -> list[str]:
    topology = backend.topology
    want = {(str(c.service), str(c.instance)): c.address for c in topology.instances()}
    try:
        snap = json_request("GET", topology.endpoints.controlplane + "/v1/snapshot?wait_s=0", timeout_s=2.0) or {}
    except (OSError, HttpError, ValueError):
        return sorted(i for _, i in want)
    have = {(s, i.get("id")): i.get("address") for s, insts in (snap.get("services") or {}).items() for i in insts}
    return sorted(key[1] for key, addr in want.items() if have.get(key) != addr)


def wait(namespace: str, timeout_s: float) -> float:
    t0 = time.monotonic()
    backend = K8sBackend.for_namespace(namespace)
    backend.kube.wait_rollout(namespace, timeout_s)
    print(f"{PROG}: every pod of {namespace} Ready after {time.monotonic() - t0:.1f}s", flush=True)
    while missing := missing_registrations(backend):
        if time.monotonic() - t0 > timeout_s:
            raise ClusterError(f"not registered with the control plane after {timeout_s:.0f}s: {', '.join(missing)}")
        time.sleep(POLL_S)
    return time.monotonic() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=f"python -m {PROG}", description="Wait until a deployed topology is ready.")
    p.add_argument("--namespace", default="gatemesh-edge-mesh")
    p.add_argument("--timeout-s", type=float, default=300.0)
    args = p.parse_args(argv)
    try:
        took = wait(args.namespace, args.timeout_s)
    except Exception as e:  # noqa: BLE001 - ClusterError, FaultError: one sentence out
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    print(f"{PROG}: {args.namespace}: every pod Ready and every instance registered in {took:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
