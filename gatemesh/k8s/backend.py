"""Process faults on a topology running in a Kubernetes namespace: ``K8sBackend``.

    from gatemesh.faults import Faults
    from gatemesh.k8s.backend import K8sBackend

    backend = K8sBackend.for_namespace("gatemesh-edge-mesh")
    faults = Faults(backend)            # toxics and misbehave: as for processes (same Toxiproxy API)
    faults.kill("catalog-2")            # SIGKILL the app container through the runtime; the kubelet restarts it
    with faults.pause("controlplane"):  # the container's cgroup frozen through the runtime (ctr tasks pause)
        ...
    faults.restart("sidecar-pricing-1") # the container killed, then Ready again
    backend.delete_pod("catalog-2")     # the pod killed and deleted; its StatefulSet makes it again
    backend.scale("catalog", 4)         # the StatefulSet scaled, Toxiproxy given catalog-4's proxy

A component is a container: an app is its pod's ``app`` container, a sidecar the
``sidecar`` one, a singleton the only container of its Deployment's pod. The runtime is
reached by containerd's own CLI on the cluster's socket (scripts/k8s/cluster.sh), as a
node's operator would: Kubernetes has no API to pause a container or send it a signal.
The pods use the host's network, so every URL of the definition holds as it is.
"""

from __future__ import annotations

import os
import subprocess
import time
from typing import Any

from gatemesh.faults.backends import Member, _signal_number
from gatemesh.faults.errors import FaultError
from gatemesh.faults.network import ToxiproxyClient
from gatemesh.topology import Topology, rescale
from gatemesh.topology.model import SERVICE, SIDECAR

from .cluster import DEFAULT_STATE, ClusterError, Kubectl, pod_ready
from .definition import rebuild

READY_TIMEOUT_S = 120.0  # a restarted container, a recreated pod, a new instance: Ready within
POLL_S = 0.25


class K8sBackend:
    """``ProcessBackend`` over the pods of one namespace (see the module docstring)."""

    def __init__(self, kube: Kubectl, namespace: str, socket: str) -> None:
        self.kube = kube
        self.namespace = namespace
        self.socket = socket
        self.topology = self._topology()

    @classmethod
    def for_namespace(cls, namespace: str) -> K8sBackend:
        state = os.environ.get("GATEMESH_K8S_STATE", DEFAULT_STATE)
        try:
            return cls(
                Kubectl.from_env(), namespace, os.environ.get("GATEMESH_K8S_RUNTIME", f"{state}/containerd.sock")
            )
        except ClusterError as e:
            raise FaultError(str(e)) from None

    def _topology(self) -> Topology:
        """The definition the pods were rendered from, at the StatefulSets' current sizes."""
        import json

        cm = self._call(self.kube.json, "get", "configmap", "gatemesh-definition", namespace=self.namespace)
        topology = rebuild(json.loads(cm["data"]["definition.json"]))
        sets = self._call(self.kube.json, "get", "statefulsets", namespace=self.namespace)["items"]
        counts = {s["metadata"]["name"]: int(s["spec"]["replicas"]) for s in sets}
        return rescale(topology, counts) if counts != dict(topology.counts) else topology

    # ------------------------------------------------------------------ ProcessBackend

    def endpoints(self) -> dict[str, Any]:
        e = self.topology.endpoints
        return {"toxiproxy_api": e.toxiproxy_api, "gateway": e.gateway, "controlplane": e.controlplane}

    def members(self) -> list[Member]:
        pods = self._call(self.kube.pods, self.namespace)
        paused = self._paused_ids()
        out = []
        for c in self.topology.components:
            status = self._container_status(pods, c.name)
            running = bool(status and "running" in status.get("state", {}))
            cid = (status or {}).get("containerID", "").split("://", 1)[-1]
            out.append(
                Member(
                    name=c.name,
                    kind=c.kind,
                    service=c.service,
                    instance=c.instance if c.kind == SERVICE else None,
                    proxy=c.proxy,
                    admin_url=f"http://127.0.0.1:{c.listen['port']}" if c.kind == SERVICE else None,
                    alive=running,
                    paused=bool(cid) and cid in paused,
                )
            )
        return out

    def kill(self, name: str, signal: str = "SIGKILL") -> dict[str, Any]:
        _signal_number(signal)
        sig = signal.upper() if signal.upper().startswith("SIG") else "SIG" + signal.upper()
        before = self._restarts(name)
        self._ctr("tasks", "kill", "-s", sig, self._container_id(name))
        if sig in ("SIGKILL", "SIGTERM", "SIGINT", "SIGQUIT"):
            self._until(f"{name} restarted by the kubelet", lambda: self._restarts(name) > before, READY_TIMEOUT_S)
        return self._describe(name)

    def pause(self, name: str) -> dict[str, Any]:
        self._ctr("tasks", "pause", self._container_id(name))
        return self._describe(name)

    def resume(self, name: str) -> dict[str, Any]:
        cid = self._container_id(name)
        if cid in self._paused_ids():
            self._ctr("tasks", "resume", cid)
        return self._describe(name)

    def restart(self, name: str) -> dict[str, Any]:
        """The container killed (resumed first if paused), then Ready again; one that is
        not running (the kubelet is restarting it) is only waited for."""
        self.resume(name)
        status = self._container_status(self._call(self.kube.pods, self.namespace), name)
        if status and "running" in status.get("state", {}):
            self.kill(name)
        self.wait_ready(name)
        return self._describe(name)

    # ------------------------------------------------------------------ more than processes

    def delete_pod(self, instance: str) -> dict[str, Any]:
        """Kill every container of the instance's pod through the runtime (no graceful
        deregistration: the registry learns by the TTL, as after a node loss), then delete
        the pod; its StatefulSet creates it again under the same name."""
        pod = self._pod_of(instance)
        uid = self._call(self.kube.json, "get", "pod", pod, namespace=self.namespace)["metadata"]["uid"]
        for cid in self._pod_container_ids(pod):
            self._ctr("tasks", "kill", "-s", "SIGKILL", cid, check=False)
        self._call(
            self.kube.run, "delete", "pod", pod, "--grace-period=0", "--force", "--wait=false", namespace=self.namespace
        )
        self._until(
            f"{pod} recreated by its StatefulSet",
            lambda: (self._pod(pod) or {}).get("metadata", {}).get("uid") not in (None, uid),
            READY_TIMEOUT_S,
        )
        return {"name": pod, "state": "recreated", "namespace": self.namespace}

    def wait_ready(self, name: str, timeout_s: float = READY_TIMEOUT_S) -> None:
        pod = self._pod_of(name)
        self._until(f"{pod} Ready", lambda: pod_ready(self._pod(pod) or {}), timeout_s)

    def scale(self, service: str, n: int) -> dict[str, Any]:
        """The StatefulSet to ``n`` pods; Toxiproxy gets the new instances' proxies (and
        loses the removed ones'); returns once every new pod is Ready."""
        old = self.topology
        new = rescale(old, {service: n})
        toxiproxy = ToxiproxyClient(old.endpoints.toxiproxy_api)
        have = {p.name for p in old.proxies}
        added = [p for p in new.proxies if p.name not in have]
        toxiproxy.populate(added)
        self._call(self.kube.run, "scale", f"statefulset/{service}", f"--replicas={n}", namespace=self.namespace)
        self.topology = new
        for p in added:
            self.wait_ready(p.name)
        removed = sorted(have - {p.name for p in new.proxies})
        for name in removed:
            self._until(f"{name} gone", lambda name=name: self._pod(name) is None, READY_TIMEOUT_S)
            toxiproxy.delete(name)
        return {"added": [p.name for p in added], "removed": removed}

    # ------------------------------------------------------------------ internals

    def _pod_of(self, name: str) -> str:
        c = self._component(name)
        if c.kind in (SERVICE, SIDECAR):
            return str(c.instance)
        pods = self._call(self.kube.pods, self.namespace, f"app.kubernetes.io/name={c.name}")
        live = [p for p, v in pods.items() if not v["metadata"].get("deletionTimestamp")]
        if not live:
            raise FaultError(f"no pod of {name} in the namespace {self.namespace}")
        return live[0]

    def _component(self, name: str) -> Any:
        try:
            return self.topology.component(name)
        except KeyError:
            known = ", ".join(c.name for c in self.topology.components)
            raise FaultError(f"no component named {name!r} in {self.namespace}; the components are: {known}") from None

    def _container_name(self, name: str) -> str:
        c = self._component(name)
        return {SERVICE: "app", SIDECAR: "sidecar"}.get(c.kind, c.name)

    def _container_status(self, pods: dict[str, Any], name: str) -> dict[str, Any] | None:
        try:
            pod = pods.get(self._pod_of(name)) if self._component(name).kind in (SERVICE, SIDECAR) else None
        except FaultError:
            pod = None
        if pod is None:
            c = self._component(name)
            pod = next(
                (p for p in pods.values() if p["metadata"]["labels"].get("app.kubernetes.io/name") == c.name), None
            )
        statuses = (pod or {}).get("status", {}).get("containerStatuses", [])
        return next((s for s in statuses if s["name"] == self._container_name(name)), None)

    def _pod(self, pod: str) -> dict[str, Any] | None:
        return self._call(self.kube.pods, self.namespace).get(pod)

    def _container_id(self, name: str) -> str:
        status = self._container_status(self._call(self.kube.pods, self.namespace), name)
        cid = (status or {}).get("containerID", "")
        if not cid.startswith("containerd://"):
            raise FaultError(f"{name} has no running container (status: {status})")
        return cid.split("://", 1)[1]

    def _pod_container_ids(self, pod: str) -> list[str]:
        statuses = (self._pod(pod) or {}).get("status", {}).get("containerStatuses", [])
        return [s["containerID"].split("://", 1)[1] for s in statuses if s.get("containerID")]

    def _restarts(self, name: str) -> int:
        status = self._container_status(self._call(self.kube.pods, self.namespace), name)
        return int((status or {}).get("restartCount", 0))

    def _ctr(self, *args: str, check: bool = True) -> str:
        argv = ["ctr", "--address", self.socket, "-n", "k8s.io", *args]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        if check and done.returncode != 0:
            raise FaultError(f"ctr {' '.join(args[:2])} failed: {done.stderr.strip()}")
        return done.stdout

    def _paused_ids(self) -> set[str]:
        """Containers the runtime holds frozen (the state lives there, not in this process:
        ``gatemesh fault pause`` and ``gatemesh fault reset`` are two processes)."""
        rows = [line.split() for line in self._ctr("tasks", "ls").splitlines()[1:]]
        return {row[0] for row in rows if len(row) >= 3 and row[2] == "PAUSED"}

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ClusterError as e:
            raise FaultError(str(e)) from None

    def _until(self, what: str, check: Any, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not check():
            if time.monotonic() > deadline:
                raise FaultError(f"{what}: not within {timeout_s:.0f}s")
            time.sleep(POLL_S)

    def _describe(self, name: str) -> dict[str, Any]:
        return {"name": name, "namespace": self.namespace}


K8S_PREFIX = "k8s:"  # `gatemesh fault ... --name k8s:<namespace>`: a topology on a cluster


def is_k8s_name(name: str) -> bool:
    return name.startswith(K8S_PREFIX)


def faults_for(name: str) -> Any:
    """The CLI's ``Faults``: a ``gatemesh up`` run, or with ``k8s:<namespace>`` the pods there."""
    from gatemesh.faults import Faults

    if is_k8s_name(name):
        return Faults(K8sBackend.for_namespace(name[len(K8S_PREFIX) :]))
    return Faults.for_run(name)
