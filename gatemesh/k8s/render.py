"""A topology definition → its Kubernetes manifests, one multi-document YAML file.

    render(build_topology("edge-mesh"))  → {"edge-mesh.yaml": "apiVersion: v1\\nkind: Namespace ..."}

The file holds, in apply order: the Namespace, the ConfigMaps (the definition the
launcher rebuilds, Toxiproxy's proxies), the workloads (``workloads.py``) and the
Services: one headless Service per StatefulSet (its ``serviceName``), one per singleton,
and ``entry``, the Service a client enters through (the gateway, or ``storefront-1``'s
sidecar where there is no gateway). ``render_all()`` is every committed file, what
``python -m gatemesh.k8s write`` writes and ``check`` compares (the drift test).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gatemesh.topology import TOPOLOGIES, Topology, build_topology
from gatemesh.topology.model import CONTROLPLANE, DASHBOARD, GATEWAY, SIDECAR, TOXIPROXY

from . import pods
from .definition import definition
from .emit import dump
from .options import K8sOptions
from .workloads import TOXIPROXY_CONFIGMAP, Workloads

ENTRY = "entry"
DIFF_LINES = 30
HEADER = "# Rendered from the topology definition by `python -m gatemesh.k8s write`; do not edit.\n"


def default_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "k8s"


def manifest_file(topology: str) -> str:
    return f"{topology}.yaml"


def default_options(topology: str) -> K8sOptions:
    """The committed files' placement: a namespace per topology."""
    return K8sOptions(namespace=f"gatemesh-{topology}")


def objects(topology: Topology, options: K8sOptions) -> list[dict[str, Any]]:
    ns = options.namespace
    out: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "labels": {"app.kubernetes.io/part-of": pods.PART_OF}},
        },
        _configmap(topology, ns, pods.DEFINITION_CONFIGMAP, pods.DEFINITION_FILE, definition(topology)),
        _configmap(topology, ns, TOXIPROXY_CONFIGMAP, "toxiproxy.json", [p.to_api() for p in topology.proxies]),
    ]
    out += Workloads(topology, options).all()
    out += services(topology, ns)
    if options.ingress_host:
        out.append(ingress(topology, ns, options.ingress_host))
    return out


def ingress(topology: Topology, ns: str, host: str) -> dict[str, Any]:
    """The entry Service behind an Ingress (an option: a cluster with an ingress controller)."""
    port = int(urlsplit(topology.endpoints.entry).port or 0)
    backend = {"service": {"name": ENTRY, "port": {"number": port}}}
    path = {"path": "/", "pathType": "Prefix", "backend": backend}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": ENTRY, "namespace": ns, "labels": pods.labels(topology, ENTRY, "ingress")},
        "spec": {"rules": [{"host": host, "http": {"paths": [path]}}]},
    }


def services(topology: Topology, ns: str) -> list[dict[str, Any]]:
    out = []
    for service, count in topology.counts.items():
        if count:  # the StatefulSet's governing Service: per-pod ports differ, so none listed
            out.append(_service(topology, ns, service, pods.selector(service), None, headless=True))
    for c in topology.components:
        if c.kind in (TOXIPROXY, CONTROLPLANE, GATEWAY, DASHBOARD):
            out.append(_service(topology, ns, c.name, pods.selector(c.name), dict(c.listen)))
    entry_port = int(urlsplit(topology.endpoints.entry).port or 0)
    if topology.endpoints.gateway is not None:
        target = pods.selector("gateway")
    else:
        owner = next(c for c in topology.components if c.kind == SIDECAR and entry_port in c.listen.values())
        target = {"statefulset.kubernetes.io/pod-name": str(owner.instance)}
    out.append(_service(topology, ns, ENTRY, target, {"http": entry_port}))
    return out


def _service(
    topology: Topology,
    ns: str,
    name: str,
    select: Mapping[str, str],
    ports: Mapping[str, int] | None,
    headless: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"selector": dict(select)}
    if headless:
        spec["clusterIP"] = "None"
    if ports:
        spec["ports"] = [{"name": role, "port": p, "targetPort": p} for role, p in ports.items()]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": pods.labels(topology, name, "service")},
        "spec": spec,
    }


def _configmap(topology: Topology, ns: str, name: str, key: str, data: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "labels": pods.labels(topology, name, "config")},
        "data": {key: json.dumps(data, indent=2, sort_keys=True) + "\n"},
    }


def render_text(topology: Topology, options: K8sOptions) -> str:
    return HEADER + "".join("---\n" + dump(o) for o in objects(topology, options))


def render(topology: Topology, options: K8sOptions | None = None) -> dict[str, str]:
    return {manifest_file(topology.name): render_text(topology, options or default_options(topology.name))}


def render_all() -> dict[str, str]:
    out: dict[str, str] = {}
    for name in TOPOLOGIES:
        out.update(render(build_topology(name)))
    return out


def drift(expected: Mapping[str, str], directory: Path) -> list[str]:
    """One message per committed file that is missing or differs from its rendering."""
    out = []
    for rel, want in expected.items():
        path = directory / rel
        if not path.exists():
            out.append(f"{rel}: missing; run: python -m gatemesh.k8s write")
            continue
        have = path.read_text()
        if have != want:
            diff = difflib.unified_diff(
                have.splitlines(keepends=True), want.splitlines(keepends=True), f"committed {rel}", "rendered"
            )
            out.append(
                f"{rel}: differs from its definition; run: python -m gatemesh.k8s write\n"
                + "".join(list(diff)[:DIFF_LINES])
            )
    return out
