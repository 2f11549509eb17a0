"""What a Kubernetes rendering may vary that the topology definition does not say:
where it runs (the namespace, the port base) and what it runs (the images)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from gatemesh.topology import TopologyError

# A DNS-1123 label: what Kubernetes accepts as a namespace name.
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")

#: Resource requests by component kind: what one part of a topology at rest uses, measured
#: on the cluster built here (docs/kubernetes.md), so the scheduler can count attendees
#: per node. No limits: a CPU limit throttles a proxy mid-request and makes latency lie.
REQUESTS: Mapping[str, Mapping[str, str]] = {
    "toxiproxy": {"cpu": "20m", "memory": "32Mi"},
    "controlplane": {"cpu": "20m", "memory": "48Mi"},
    "service": {"cpu": "10m", "memory": "40Mi"},
    "sidecar": {"cpu": "20m", "memory": "48Mi"},
    "gateway": {"cpu": "50m", "memory": "56Mi"},
    "dashboard": {"cpu": "10m", "memory": "48Mi"},
    "setup": {"cpu": "10m", "memory": "32Mi"},
}


@dataclass(frozen=True)
class K8sOptions:
    """How a topology is placed on a cluster (``render(topology, K8sOptions(...))``)."""

    # One namespace per running topology: on a shared cluster, an attendee's own.
    namespace: str = "gatemesh"
    # The app image compose builds and the offline build tags (compose/images/build-offline.sh).
    app_image: str = "gatemesh/app:dev"
    # Compose's public Toxiproxy image (the version scripts/install-toxiproxy.sh pins);
    # the offline build's gatemesh/toxiproxy:local has the same layout.
    toxiproxy_image: str = "ghcr.io/shopify/toxiproxy:2.5.0"
    # Imported images are used as they are; a registry is asked only for what is missing.
    pull_policy: str = "IfNotPresent"
    # The node folder holding the orders database every orders pod shares (a SQLite file
    # needs one filesystem: a hostPath on the single node the pods share).
    data_root: str = "/var/lib/gatemesh"
    # A host name to route to the entry Service through an Ingress (a cluster with an
    # ingress controller); None renders no Ingress: the cluster built here has none.
    ingress_host: str | None = None
    # Resource requests by component kind (see REQUESTS).
    requests: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: dict(REQUESTS))

    def __post_init__(self) -> None:
        if not _LABEL.match(self.namespace):
            raise TopologyError(
                f"k8s: namespace {self.namespace!r} is not a DNS-1123 label (lower-case letters, digits, '-')"
            )
        if self.pull_policy not in _PULL_POLICIES:
            raise TopologyError(
                f"k8s: pull_policy must be one of {', '.join(_PULL_POLICIES)}, got {self.pull_policy!r}"
            )
        for name, image in (("app_image", self.app_image), ("toxiproxy_image", self.toxiproxy_image)):
            if not image or any(ch.isspace() for ch in image):
                raise TopologyError(f"k8s: {name} must be an image reference without spaces, got {image!r}")
        if not self.data_root.startswith("/"):
            raise TopologyError(f"k8s: data_root must be an absolute path on the node, got {self.data_root!r}")
        if self.ingress_host is not None and not re.match(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", self.ingress_host):
            raise TopologyError(f"k8s: ingress_host must be a DNS name, got {self.ingress_host!r}")
        missing = sorted(set(REQUESTS) - set(self.requests))
        if missing:
            raise TopologyError(f"k8s: requests lacks the kind(s) {', '.join(missing)}; every kind needs requests")
