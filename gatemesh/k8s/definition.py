"""The definition a rendering carries (the ConfigMap ``gatemesh-definition``) and the
topology rebuilt from it, in the pod (``launch``) and on the host (``backend``)."""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

from gatemesh.topology import PortPlan, Topology, build_topology, rescale

RUN_DIR = "/data"  # each pod's own volume (the orders pods': the shared hostPath)
HEALTH_FILE = "/tmp/gatemesh-health"  # "host port path" of the component's health URL (launch writes, probes read)
_ORDINAL = re.compile(r"^(?:sidecar-)?([a-z]+)-(\d+)$")


def definition(topology: Topology) -> dict[str, Any]:
    """What the launcher needs to rebuild ``topology``: the ConfigMap's JSON."""
    return {
        "topology": topology.name,
        "ports": asdict(topology.ports),
        "counts": dict(topology.counts),
        "options": dict(topology.options),
    }


def rebuild(data: dict[str, Any], component: str | None = None) -> Topology:
    """The topology of a definition, with the count raised where ``component`` is an
    instance beyond it (a scaled-up StatefulSet's new pod)."""
    topology = build_topology(data["topology"], PortPlan(**data["ports"]), data["counts"], **data["options"])
    m = _ORDINAL.match(component or "")
    if m and m.group(1) in topology.counts and int(m.group(2)) > topology.counts[m.group(1)]:
        topology = rescale(topology, {m.group(1): int(m.group(2))})
    return topology
