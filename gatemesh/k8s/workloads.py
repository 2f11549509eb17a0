"""One workload per component kind of a topology.

    component kind   Kubernetes
    --------------   --------------------------------------------------------------------
    toxiproxy        Deployment, its ``-config`` (every proxy) from the ConfigMap ``toxiproxy``
    controlplane     Deployment; its state file on the pod's ``data`` volume (an emptyDir:
                     kept across container restarts, the kill fault)
    service+sidecar  one StatefulSet per service: the app and its sidecar are two containers
                     of one pod (one network: compose's ``network_mode: service:``, natively);
                     ordinals start at 1, so the pods are the instances (``catalog-2``)
    gateway          Deployment
    dashboard        Deployment
    (setup)          sidecar-gateway only: a Job PUTs API management to the control plane

Each Python container runs ``gatemesh.k8s.launch`` with its component's name; every pod
but Toxiproxy's waits (an init container) until the start group before it answers.
"""

from __future__ import annotations

import json
from typing import Any

from gatemesh.topology import Topology, TopologyError
from gatemesh.topology.build import ORDERS_DB
from gatemesh.topology.model import CONTROLPLANE, DASHBOARD, GATEWAY, SERVICE, SIDECAR, TOXIPROXY, Component

from . import pods
from .options import K8sOptions

TOXIPROXY_CONFIGMAP = "toxiproxy"
TOXIPROXY_CONFIG = "/config/toxiproxy.json"
SETUP = "setup"
ORDINALS_START = 1  # instance ids start at 1 (catalog-1), as in the definition
RENDERED_KINDS = {TOXIPROXY, CONTROLPLANE, SERVICE, SIDECAR, GATEWAY, DASHBOARD}


class Workloads:
    def __init__(self, topology: Topology, options: K8sOptions) -> None:
        self.topology = topology
        self.options = options
        self.ns = options.namespace

    def all(self) -> list[dict[str, Any]]:
        t = self.topology
        unknown = sorted({c.kind for c in t.components} - RENDERED_KINDS)
        if unknown:
            raise TopologyError(
                f"k8s: the definition has component kind(s) {', '.join(unknown)} with no Kubernetes "
                "rendering; teach gatemesh/k8s/workloads.py before rendering"
            )
        out = [self.toxiproxy(t.component("toxiproxy")), self.controlplane(t.component("controlplane"))]
        if t.apimgmt is not None:
            out.append(self.setup())
        for service, count in t.counts.items():
            if count:
                out.append(self.instances(service, count))
        for c in t.components:
            if c.kind in (GATEWAY, DASHBOARD):
                out.append(self.singleton(c, [t.endpoints.controlplane + "/health"]))
        return out

    def _meta(self, name: str, kind: str) -> dict[str, Any]:
        return {"name": name, "namespace": self.ns, "labels": pods.labels(self.topology, name, kind)}

    def _deployment(self, name: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": self._meta(name, kind),
            "spec": {
                "replicas": 1,
                "strategy": {"type": "Recreate"},  # the host's ports: the old pod must go first
                "selector": {"matchLabels": pods.selector(name)},
                "template": {"metadata": {"labels": pods.labels(self.topology, name, kind)}, "spec": spec},
            },
        }

    def toxiproxy(self, c: Component) -> dict[str, Any]:
        args = [*c.args, "-config", TOXIPROXY_CONFIG]
        container = {
            "name": "toxiproxy",
            "image": self.options.toxiproxy_image,
            "imagePullPolicy": self.options.pull_policy,
            "args": args,
            "env": [{"name": k, "value": v} for k, v in c.env.items()],
            "resources": {"requests": dict(self.options.requests[TOXIPROXY])},
            "readinessProbe": pods.http_probe(c.health_url, pods.READY_PERIOD_S),
            "livenessProbe": pods.http_probe(c.health_url, pods.LIVE_PERIOD_S, pods.LIVE_FAILURES),
            "volumeMounts": [{"name": "config", "mountPath": "/config", "readOnly": True}],
        }
        volumes = [{"name": "config", "configMap": {"name": TOXIPROXY_CONFIGMAP}}]
        return self._deployment(c.name, TOXIPROXY, pods.pod_spec([container], volumes, []))

    def controlplane(self, c: Component) -> dict[str, Any]:
        container = pods.launcher(c.name, c.name, self.options.app_image, CONTROLPLANE, self.options, c.health_url)
        volumes = [pods.definition_volume(), {"name": "data", "emptyDir": {}}]
        return self._deployment(c.name, CONTROLPLANE, pods.pod_spec([container], volumes, []))

    def singleton(self, c: Component, after: list[str]) -> dict[str, Any]:
        container = pods.launcher(c.name, c.name, self.options.app_image, c.kind, self.options, c.health_url)
        volumes = [pods.definition_volume(), {"name": "data", "emptyDir": {}}]
        init = [pods.wait_for(after, self.options)]
        return self._deployment(c.name, c.kind, pods.pod_spec([container], volumes, init))

    def instances(self, service: str, count: int) -> dict[str, Any]:
        """The StatefulSet of one service: app (+ sidecar) per pod, one pod per instance."""
        t = self.topology
        first = t.instances(service)[0]
        has_sidecar = any(c.kind == SIDECAR and c.service == service for c in t.components)
        containers = [pods.launcher("app", "$(POD_NAME)", self.options.app_image, SERVICE, self.options, None)]
        if has_sidecar:
            containers.append(
                pods.launcher("sidecar", "sidecar-$(POD_NAME)", self.options.app_image, SIDECAR, self.options, None)
            )
        if any(ORDERS_DB in a for a in first.args):
            data: dict[str, Any] = {
                "name": "data",
                "hostPath": {"path": f"{self.options.data_root}/{self.ns}/{service}", "type": "DirectoryOrCreate"},
            }
        else:
            data = {"name": "data", "emptyDir": {}}
        init = [
            pods.wait_for([t.endpoints.toxiproxy_api + "/version", t.endpoints.controlplane + "/health"], self.options)
        ]
        labels = pods.labels(t, service, SERVICE)
        return {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": self._meta(service, SERVICE),
            "spec": {
                "replicas": count,
                "ordinals": {"start": ORDINALS_START},
                "serviceName": service,
                "podManagementPolicy": "Parallel",  # instances do not wait for each other
                "selector": {"matchLabels": pods.selector(service)},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": pods.pod_spec(containers, [pods.definition_volume(), data], init),
                },
            },
        }

    def setup(self) -> dict[str, Any]:
        """sidecar-gateway: API management PUT to the control plane once it answers."""
        t = self.topology
        body = json.dumps(t.apimgmt, sort_keys=True, separators=(",", ":"))
        container = {
            "name": SETUP,
            "image": self.options.app_image,
            "imagePullPolicy": self.options.pull_policy,
            "command": ["python", "-m", "gatemesh.compose.seed", "PUT", t.endpoints.controlplane + "/v1/apimgmt", body],
            "resources": {"requests": dict(self.options.requests[SETUP])},
        }
        spec = pods.pod_spec([container], [], [])
        spec["restartPolicy"] = "OnFailure"
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": self._meta(SETUP, SETUP),
            "spec": {
                "backoffLimit": 6,
                "template": {"metadata": {"labels": pods.labels(t, SETUP, SETUP)}, "spec": spec},
            },
        }
