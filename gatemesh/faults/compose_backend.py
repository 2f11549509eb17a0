"""Process faults on a docker compose topology: ``ComposeBackend``, through the docker SDK.

    from gatemesh.faults import Faults
    from gatemesh.faults.compose_backend import ComposeBackend, partition

    backend = ComposeBackend.for_topology("edge-mesh")     # project found by its labels
    faults = Faults(backend)                                # toxics, misbehave: as for processes
    faults.kill("catalog-2")                                # docker kill -s KILL; .remove() starts it
    with faults.pause("controlplane"): ...                  # docker pause / unpause (cgroup freezer)
    faults.restart("sidecar-pricing-1")                     # docker restart, then healthy + registered
    backend.stop("reviews-1"); backend.start("reviews-1")   # docker stop (SIGTERM) / start
    with partition(faults, "inventory-2"): ...              # disconnected from the project's network

What a pod means here. An app container owns its instance's network namespace and its
sidecar joins it (``network_mode: service:<app>``). So:

- killing, stopping or restarting an **app** takes the pod's network with it: the sidecar
  keeps running in a namespace with only loopback left (its heartbeats fail, the
  registry expires the instance after its TTL). Starting the app gives it a new
  namespace, so the backend restarts the sidecar right after, as a pod would come back;
- a **sidecar** can be killed, paused or restarted alone; starting one whose app is down
  starts the app first;
- a **partition** disconnects the pod (the app container) from the project's network:
  the app and its sidecar are cut off together, and ``heal`` reconnects it under its
  service name (Docker's DNS answers ``catalog-1`` again). Naming a sidecar partitions
  its pod.

``members()`` reads the containers' states (running, paused, exited); an app's
``admin_url`` is its port as published on 127.0.0.1, which the default compose files
do not do for apps: add the tests' override ``compose/<topology>.test.yml`` as a
second ``-f`` file (the compose chaos tests do) or misbehave and stats say so.
"""

from __future__ import annotations

import time
from typing import Any

from gatemesh.compose.project import ComposeProject, ProjectError, pod_of, sidecar_of
from gatemesh.topology import Topology
from gatemesh.topology.model import SERVICE, SIDECAR

from .backends import Member, _signal_number
from .errors import FaultError
from .injector import Fault, Faults

STOP_TIMEOUT_S = 5  # docker stop: SIGTERM, then SIGKILL after this (the runner's grace)
READY_TIMEOUT_S = 90.0  # a restarted component passes its healthcheck (and registers) within
EXIT_TIMEOUT_S = 10.0  # a killed container is reported exited within
PAUSE_TRIES = 5  # docker pause attempts ("unable to freeze" under load)


class ComposeBackend:
    """``ProcessBackend`` over the containers of one compose project (see the module docstring)."""

    def __init__(self, project: ComposeProject) -> None:
        self.project = project
        self.topology: Topology = project.topology
        self.partitioned: set[str] = set()

    @classmethod
    def for_topology(
        cls, topology: str = "edge-mesh", project: str | None = None, client: Any = None
    ) -> ComposeBackend:
        try:
            return cls(ComposeProject(topology, project, client))
        except ProjectError as e:
            raise FaultError(str(e)) from None

    # ------------------------------------------------------------------ ProcessBackend

    def endpoints(self) -> dict[str, Any]:
        """The topology's own URLs: the compose files publish them at the same ports."""
        e = self.topology.endpoints
        return {"toxiproxy_api": e.toxiproxy_api, "gateway": e.gateway, "controlplane": e.controlplane}

    def members(self) -> list[Member]:
        summaries = self._call(self.project.summaries)
        out = []
        for c in self.topology.components:  # start order, which reset() relies on
            entry = summaries.get(c.name) or {}
            state = entry.get("State", "missing")
            admin = None
            if c.kind == SERVICE:
                port = c.listen["port"]
                host_ports = {p["PrivatePort"]: p["PublicPort"] for p in entry.get("Ports", []) if p.get("PublicPort")}
                if port in host_ports:
                    admin = f"http://127.0.0.1:{host_ports[port]}"
            out.append(
                Member(
                    name=c.name,
                    kind=c.kind,
                    service=c.service,
                    instance=c.instance if c.kind == SERVICE else None,
                    proxy=c.proxy,
                    admin_url=admin,
                    pid=None,
                    alive=state in ("running", "paused"),
                    paused=state == "paused",
                )
            )
        return out

    def kill(self, name: str, signal: str = "SIGKILL") -> dict[str, Any]:
        container = self._container(name)
        _signal_number(signal)  # a sentence for a typo, before Docker's own error
        sig = signal.upper() if signal.upper().startswith("SIG") else "SIG" + signal.upper()
        self._call(container.kill, signal=sig)
        if sig in ("SIGKILL", "SIGTERM", "SIGINT", "SIGQUIT"):
            self._wait_state(name, ("exited", "dead"), EXIT_TIMEOUT_S)
        return self._describe(name)

    def pause(self, name: str) -> dict[str, Any]:
        """``docker pause`` (the cgroup freezer). On a busy machine runc's freeze can give up
        ("unable to freeze") while a task is in the middle of a system call: try again."""
        container = self._container(name)
        for attempt in range(1, PAUSE_TRIES + 1):
            try:
                self._call(container.pause)
                break
            except FaultError as e:
                if "unable to freeze" not in str(e) or attempt == PAUSE_TRIES:
                    raise
                time.sleep(0.2 * attempt)
        return self._describe(name)

    def resume(self, name: str) -> dict[str, Any]:
        container = self._container(name)
        if container.status == "paused":
            self._call(container.unpause)
        return self._describe(name)

    def restart(self, name: str) -> dict[str, Any]:
        """Stop it if it runs, start it, wait until healthy (and registered, for an instance)."""
        container = self._container(name)
        if container.status == "paused":
            self._call(container.unpause)
        if container.status in ("running", "paused"):
            self._call(container.stop, timeout=STOP_TIMEOUT_S)
        return self.start(name)

    # ------------------------------------------------------------------ more than processes

    def stop(self, name: str) -> dict[str, Any]:
        """``docker stop``: SIGTERM, SIGKILL after the grace (a clean shutdown: deregisters)."""
        container = self._container(name)
        if container.status == "paused":
            self._call(container.unpause)
        self._call(container.stop, timeout=STOP_TIMEOUT_S)
        return self._describe(name)

    def start(self, name: str) -> dict[str, Any]:
        """Start a stopped or killed container, and the pod's sidecar after its app."""
        pod = pod_of(self.topology, name)
        if pod != name and self._container(pod).status not in ("running", "paused"):
            return self.start(pod)  # a sidecar needs its app's namespace; starting the app starts it too
        container = self._container(name)
        started = container.status not in ("running", "paused")
        if container.status == "paused":
            self._call(container.unpause)
        elif started:
            self._call(container.start)
        self._ready(name)
        sidecar = sidecar_of(self.topology, name)
        if started and sidecar is not None:
            # the app has a new namespace: a sidecar still running sits in the old one
            side = self._container(sidecar)
            if side.status == "paused":
                self._call(side.unpause)
            if side.status in ("running", "paused"):
                self._call(side.stop, timeout=STOP_TIMEOUT_S)
            self._call(side.start)
            self._ready(sidecar)
        self.partitioned.discard(pod)
        return self._describe(name)

    def partition(self, name: str) -> dict[str, Any]:
        """Disconnect the pod (or the component's own container) from the project's network."""
        pod = pod_of(self.topology, name)
        container = self._container(pod)
        network = self._call(self.project.network)
        self._call(network.disconnect, container)
        self.partitioned.add(pod)
        return self._describe(pod)

    def heal(self, name: str) -> dict[str, Any]:
        """Connect it again, reachable under its compose service name."""
        pod = pod_of(self.topology, name)
        container = self._container(pod)
        network = self._call(self.project.network)
        network.reload()
        attached = {c.id for c in network.containers}
        if container.id not in attached:
            self._call(network.connect, container, aliases=[pod])
        self.partitioned.discard(pod)
        return self._describe(pod)

    def heal_all(self) -> list[str]:
        healed = sorted(self.partitioned)
        for pod in healed:
            self.heal(pod)
        return healed

    # ------------------------------------------------------------------ internals

    def _container(self, name: str) -> Any:
        try:
            container = self.project.container(name)
        except ProjectError as e:
            raise FaultError(str(e)) from None
        return container

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ProjectError as e:
            raise FaultError(str(e)) from None
        except Exception as e:  # noqa: BLE001 - docker.errors.APIError and friends: one sentence
            explanation = getattr(e, "explanation", None) or str(e)
            raise FaultError(f"docker: {explanation}") from None

    def _wait_state(self, name: str, states: tuple[str, ...], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self._call(self.project.states).get(name) not in states:
            if time.monotonic() > deadline:
                raise FaultError(f"{name} is still {self.project.states().get(name)} after {timeout_s:.0f}s")
            time.sleep(0.1)

    def _ready(self, name: str) -> None:
        try:
            self.project.wait_probe(name, READY_TIMEOUT_S)
            kind = self.topology.component(name).kind
            if kind in (SERVICE, SIDECAR) and self._has_sidecars_or_registers(name):
                self.project.wait_registered(READY_TIMEOUT_S, [str(self.topology.component(name).instance)])
        except ProjectError as e:
            raise FaultError(str(e)) from None

    def _has_sidecars_or_registers(self, name: str) -> bool:
        """An app registers itself only where it has no sidecar; with a sidecar, wait on the sidecar."""
        c = self.topology.component(name)
        return c.kind == SIDECAR or sidecar_of(self.topology, name) is None

    def _describe(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "state": self._call(self.project.states).get(name, "missing"),
            "project": self.project.project,
        }


def compose_faults(topology: str = "edge-mesh", project: str | None = None) -> Faults:
    """``Faults`` on a running compose topology."""
    return Faults(ComposeBackend.for_topology(topology, project))


def partition(faults: Faults, name: str) -> Fault:
    """Cut ``name``'s pod off the network; the returned fault's ``remove()`` heals it."""
    backend = faults.backend
    if not isinstance(backend, ComposeBackend):
        raise FaultError("a network partition needs the compose backend (containers on a Docker network)")
    faults.member(name)
    backend.partition(name)
    pod = pod_of(backend.topology, name)

    def heal() -> None:
        backend.heal(pod)

    return Fault(pod, "partition", "disconnected from the network", heal)
