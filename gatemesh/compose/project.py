"""A running compose topology, seen through the docker SDK (``pip install gatemesh[docker]``).

    project = ComposeProject("edge-mesh")                  # found by its containers' labels
    project = ComposeProject("edge-mesh", "gatemesh-edge-mesh")
    project.containers()         # {"catalog-1": Container, "sidecar-catalog-1": ..., ...}
    project.states()             # {"catalog-1": "running", "gateway": "paused", ...}
    project.wait_ready(180)      # every container healthy, every instance registered
    project.credentials()        # the run's credentials, read from the control plane's volume

Containers are found by the labels every rendered service carries
(``org.gatemesh.topology``, ``org.gatemesh.component``) plus compose's own project
label, so the same code works for ``docker-compose`` 1.29 (``<project>_<service>_1``)
and ``docker compose`` v2 (``<project>-<service>-1``), whatever the project is called.
The topology definition itself is rebuilt here (``build_topology(name)`` on the default
ports: the compose files are rendered from exactly that).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from gatemesh.runner.webclient import HttpError, json_request
from gatemesh.security.credentials import Credentials
from gatemesh.topology import Topology, build_topology
from gatemesh.topology.model import SERVICE, SIDECAR

from .addresses import Netns
from .render import compose_file, project_name
from .services import LABEL
from .trust import CREDENTIALS_PATH

PROJECT_LABEL = "com.docker.compose.project"
NETWORK_LABEL = "com.docker.compose.network"
POLL_S = 0.25

Progress = Callable[[str], None]


class ProjectError(Exception):
    """A compose topology is not there or not ready; the message is one sentence."""


def docker_client() -> Any:
    try:
        import docker
    except ImportError:
        raise ProjectError("the docker SDK is not installed; pip install 'gatemesh[docker]'") from None
    try:
        client = docker.from_env()
        client.ping()
    except Exception as e:  # noqa: BLE001 - docker raises several kinds; one sentence out
        raise ProjectError(f"no Docker engine answers ({e}); start one (scripts/install-docker.sh)") from None
    return client


class ComposeProject:
    def __init__(self, topology: str | Topology, project: str | None = None, client: Any = None) -> None:
        self.topology = build_topology(topology) if isinstance(topology, str) else topology
        self.client = client or docker_client()
        self.project = project or self._discover()
        self.netns = Netns.of(self.topology)

    # ------------------------------------------------------------------ what runs

    def _filters(self) -> dict[str, Any]:
        return {"label": [f"{PROJECT_LABEL}={self.project}", f"{LABEL}.topology={self.topology.name}"]}

    def _discover(self) -> str:
        found = self.client.api.containers(all=True, filters={"label": f"{LABEL}.topology={self.topology.name}"})
        projects = sorted({c["Labels"].get(PROJECT_LABEL, "") for c in found} - {""})
        name = self.topology.name
        if not projects:
            raise ProjectError(
                f"no compose project runs the {name} topology; start it with: docker compose -p "
                f"{project_name(name)} -f compose/{compose_file(name)} up -d"
            )
        if len(projects) > 1:
            raise ProjectError(
                f"several compose projects run the {name} topology ({', '.join(projects)}); name one with project=..."
            )
        return projects[0]

    def summaries(self) -> dict[str, dict[str, Any]]:
        """One ``docker ps``-style entry per component (one API call)."""
        out: dict[str, dict[str, Any]] = {}
        for c in self.client.api.containers(all=True, filters=self._filters()):
            out[c["Labels"].get(f"{LABEL}.component", "")] = c
        return out

    def containers(self) -> dict[str, Any]:
        return {
            c.labels.get(f"{LABEL}.component", ""): c
            for c in self.client.containers.list(all=True, filters=self._filters())
        }

    def container(self, name: str) -> Any:
        containers = self.containers()
        if name not in containers:
            known = ", ".join(sorted(containers)) or "none"
            raise ProjectError(
                f"the compose project {self.project} has no container named {name!r}; the containers are: {known}"
            )
        return containers[name]

    def states(self) -> dict[str, str]:
        """``running``, ``paused``, ``exited``, ... by component."""
        return {name: c["State"] for name, c in self.summaries().items()}

    def published(self, name: str) -> dict[int, int]:
        """Container port → host port published on 127.0.0.1, for the component's container."""
        entry = self.summaries().get(name) or {}
        return {
            p["PrivatePort"]: p["PublicPort"]
            for p in entry.get("Ports", [])
            if p.get("PublicPort") and p.get("IP") in ("127.0.0.1", None)
        }

    def network(self) -> Any:
        """The project's network (compose's ``default``): what a partition disconnects from."""
        nets = self.client.networks.list(filters={"label": [f"{PROJECT_LABEL}={self.project}"]})
        for n in nets:
            if n.attrs.get("Labels", {}).get(NETWORK_LABEL) == "default":
                return n
        if len(nets) == 1:
            return nets[0]
        raise ProjectError(f"the compose project {self.project} has no default network")

    def credentials(self) -> Credentials:
        """The run's credentials, as the one-shot ``credentials`` service made them: read in
        the control plane's container (``docker exec cat``), never from a file on the host."""
        container = self.container("controlplane")
        try:
            result = container.exec_run(["cat", CREDENTIALS_PATH])
            data = json.loads(result.output) if result.exit_code == 0 else None
        except Exception:  # noqa: BLE001 - a container that is not running cannot exec
            data = None
        if not isinstance(data, dict):
            raise ProjectError(
                f"the control plane of {self.project} has no credentials in {CREDENTIALS_PATH} "
                "(did the credentials service run? docker logs of its container say)"
            )
        return Credentials(data["admin_token"], data["bootstrap_key"])

    # ------------------------------------------------------------------ readiness

    def probe(self, name: str) -> bool:
        """Run the container's own healthcheck once, now (rather than wait for Docker's
        next round, ``interval`` away)."""
        container = self.container(name)
        test = (container.attrs.get("Config", {}).get("Healthcheck") or {}).get("Test") or []
        if container.status != "running" or not test or test[0] not in ("CMD", "CMD-SHELL"):
            return container.status == "running" and not test
        cmd = test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", test[1]]
        try:
            return container.exec_run(cmd).exit_code == 0
        except Exception:  # noqa: BLE001 - a container that just died cannot exec
            return False

    def wait_probe(self, name: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.probe(name):
            if time.monotonic() > deadline:
                raise ProjectError(f"{name} did not pass its healthcheck within {timeout_s:.0f}s")
            time.sleep(POLL_S)

    def expected_registrations(self, names: list[str] | None = None) -> dict[tuple[str, str], str]:
        """(service, instance) → the address the registry must hand out (its Toxiproxy proxy)."""
        out = {}
        for c in self.topology.instances():
            if names is None or c.name in names:
                out[(str(c.service), str(c.instance))] = self.netns.dial(str(c.address), "")
        return out

    def missing_registrations(self, names: list[str] | None = None) -> list[str]:
        want = self.expected_registrations(names)
        url = self.topology.endpoints.controlplane + "/v1/snapshot?wait_s=0"
        try:
            snap = json_request("GET", url, timeout_s=2.0) or {}
        except (OSError, HttpError, ValueError):
            return sorted(i for _, i in want)
        have = {(s, i.get("id")): i.get("address") for s, insts in (snap.get("services") or {}).items() for i in insts}
        return sorted(key[1] for key, addr in want.items() if have.get(key) != addr)

    def wait_registered(self, timeout_s: float, names: list[str] | None = None) -> None:
        port = int(self.topology.endpoints.controlplane.rsplit(":", 1)[1])
        if port not in self.published("controlplane"):
            raise ProjectError(
                f"the control plane of {self.project} is not published on the host (the default files keep it "
                f"inside): add -f compose/{self.topology.name}.test.yml to wait for the registrations"
            )
        deadline = time.monotonic() + timeout_s
        while True:
            missing = self.missing_registrations(names)
            if not missing:
                return
            if time.monotonic() > deadline:
                raise ProjectError(
                    f"not registered with the control plane after {timeout_s:.0f}s: {', '.join(missing)}"
                )
            time.sleep(POLL_S)

    def wait_ready(self, timeout_s: float = 180.0, progress: Progress | None = None) -> None:
        """Every component's container running and healthy, then every instance registered
        at its Toxiproxy address (what the process runner waits for too)."""
        say = progress or (lambda _m: None)
        deadline = time.monotonic() + timeout_s
        want = [c.name for c in self.topology.components]
        last = ""
        while True:
            summaries = self.summaries()
            not_ready = [n for n in want if not _healthy(summaries.get(n))]
            if not not_ready:
                break
            dead = [n for n in not_ready if (summaries.get(n) or {}).get("State") in ("exited", "dead")]
            if dead:
                raise ProjectError(
                    f"container(s) exited during start-up: {', '.join(dead)}; "
                    f"see: docker logs <container> (project {self.project})"
                )
            line = f"waiting for {len(not_ready)} of {len(want)} containers: {', '.join(not_ready[:6])}" + (
                " ..." if len(not_ready) > 6 else ""
            )
            if line != last:
                say(line)
                last = line
            if time.monotonic() > deadline:
                raise ProjectError(f"not healthy after {timeout_s:.0f}s: {', '.join(not_ready)}")
            time.sleep(POLL_S * 2)
        say(f"all {len(want)} containers healthy; waiting for the registry")
        self.wait_registered(max(1.0, deadline - time.monotonic()))


def _healthy(summary: dict[str, Any] | None) -> bool:
    if not summary or summary.get("State") != "running":
        return False
    status = summary.get("Status", "")
    return "(healthy)" in status or "(health" not in status and "(unhealthy)" not in status


def pod_of(topology: Topology, name: str) -> str:
    """The container whose network namespace ``name`` runs in (a sidecar's is its app's)."""
    for c in topology.components:
        if c.name == name and c.kind == SIDECAR:
            return str(c.instance)
    return name


def sidecar_of(topology: Topology, name: str) -> str | None:
    for c in topology.components:
        if c.kind == SIDECAR and c.instance == name:
            return c.name
    return None


def is_instance_part(topology: Topology, name: str) -> bool:
    return any(c.name == name and c.kind in (SERVICE, SIDECAR) for c in topology.components)
