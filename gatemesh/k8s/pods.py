"""The parts every Pod template shares: labels, the launcher's container, probes, the
wait for the start group before (an init container), volumes.

Probes. A component whose port is the same in every pod of its template (Toxiproxy, the
control plane, the gateway, the dashboard) gets an ``httpGet`` probe on its health URL.
An instance's ports differ per pod (the definition's port plan), so its containers run
bash's ``/dev/tcp`` against the URL the launcher wrote to ``HEALTH_FILE`` (no curl in
the image, and far cheaper than starting Python every few seconds, as in compose).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from gatemesh.topology import Topology

from .definition import HEALTH_FILE, RUN_DIR
from .options import K8sOptions

PART_OF = "gatemesh"
DEFINITION_CONFIGMAP = "gatemesh-definition"
DEFINITION_FILE = "definition.json"
CONFIG_DIR = "/etc/gatemesh"

READY_PERIOD_S = 5  # how soon a pod that came up (or back) takes traffic
LIVE_PERIOD_S = 20  # liveness is rarer: each exec probe is a runc exec
LIVE_FAILURES = 6  # two minutes unresponsive before the kubelet restarts a container
STOP_GRACE_S = 5  # SIGTERM → SIGKILL, as the process runner and compose do
WAIT_LIMIT_S = 300  # an init container gives up on the group before after this

_HEALTH_SCRIPT = (
    "read h p path < " + HEALTH_FILE + " && exec 3<>/dev/tcp/$h/$p && "
    "printf 'GET %s HTTP/1.1\\r\\nHost: %s\\r\\nConnection: close\\r\\n\\r\\n' $path $h >&3 && "
    "head -n 1 <&3 | grep -q ' 200 '"
)


def labels(topology: Topology, component: str, kind: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": component,
        "app.kubernetes.io/part-of": PART_OF,
        "gatemesh.io/topology": topology.name,
        "gatemesh.io/kind": kind,
    }


def selector(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": component, "app.kubernetes.io/part-of": PART_OF}


def http_probe(url: str, period_s: int, failures: int = 3) -> dict[str, Any]:
    parts = urlsplit(url)
    return {
        "httpGet": {"host": parts.hostname, "port": parts.port, "path": parts.path or "/"},
        "periodSeconds": period_s,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def file_probe(period_s: int, failures: int = 3) -> dict[str, Any]:
    return {
        "exec": {"command": ["bash", "-c", _HEALTH_SCRIPT]},
        "periodSeconds": period_s,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def launcher(
    name: str, component: str, image: str, kind: str, options: K8sOptions, fixed_health: str | None
) -> dict[str, Any]:
    """A container running ``component`` through ``gatemesh.k8s.launch``."""
    ready = http_probe(fixed_health, READY_PERIOD_S) if fixed_health else file_probe(READY_PERIOD_S)
    live = (
        http_probe(fixed_health, LIVE_PERIOD_S, LIVE_FAILURES)
        if fixed_health
        else file_probe(LIVE_PERIOD_S, LIVE_FAILURES)
    )
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": options.pull_policy,
        "command": [
            "python",
            "-m",
            "gatemesh.k8s.launch",
            "--definition",
            f"{CONFIG_DIR}/{DEFINITION_FILE}",
            component,
        ],
        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "resources": {"requests": dict(options.requests[kind])},
        "readinessProbe": ready,
        "livenessProbe": live,
        "volumeMounts": [
            {"name": "definition", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "data", "mountPath": RUN_DIR},
        ],
    }


def wait_for(urls: list[str], options: K8sOptions) -> dict[str, Any]:
    """An init container that waits until every URL answers 200: the start group before
    this one (compose's ``depends_on: service_healthy``; the process runner's groups)."""
    checks = []
    for url in urls:
        u = urlsplit(url)
        request = f"GET {u.path or '/'} HTTP/1.1\\r\\nHost: {u.hostname}\\r\\nConnection: close\\r\\n\\r\\n"
        checks.append(
            f"until (exec 3<>/dev/tcp/{u.hostname}/{u.port} && printf '{request}' >&3 && head -n 1 <&3 | grep -q ' 200 ') "
            f"2>/dev/null; do [ $SECONDS -lt {WAIT_LIMIT_S} ] || exit 1; sleep 0.5; done"
        )
    return {
        "name": "wait",
        "image": options.app_image,
        "imagePullPolicy": options.pull_policy,
        "command": ["bash", "-c", "; ".join(checks)],
        "resources": {"requests": dict(options.requests["setup"])},
    }


def pod_spec(
    containers: list[dict[str, Any]], volumes: list[dict[str, Any]], init: list[dict[str, Any]]
) -> dict[str, Any]:
    """The host's network for every pod: see docs/kubernetes.md ("Networking")."""
    spec: dict[str, Any] = {
        "hostNetwork": True,
        "dnsPolicy": "ClusterFirstWithHostNet",
        "automountServiceAccountToken": False,  # nothing in a pod talks to the API server
        "terminationGracePeriodSeconds": STOP_GRACE_S,
        "enableServiceLinks": False,  # no FOO_SERVICE_HOST variables: the definition has the addresses
    }
    if init:
        spec["initContainers"] = init
    spec["containers"] = containers
    spec["volumes"] = volumes
    return spec


def definition_volume() -> dict[str, Any]:
    return {"name": "definition", "configMap": {"name": DEFINITION_CONFIGMAP}}
