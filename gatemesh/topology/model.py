"""What a topology is made of: plain frozen data, no process handling.

A ``Topology`` lists its components (each with a command line, the ports it listens
on, a health URL and a start group), the Toxiproxy proxies to create, the files the
components read (the gateway config) and the entry points a client uses. The process
runner (``gatemesh.runner``) starts exactly this; a compose generator can render the
same data as services. Paths inside the run directory are written ``{run_dir}/...``
and filled in by whoever runs the topology (``Component.command``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .ports import PortPlan

#: Placeholder for the directory that holds a run's files (configs, the orders DB).
RUN_DIR = "{run_dir}"

# Component kinds.
TOXIPROXY = "toxiproxy"
CONTROLPLANE = "controlplane"
SERVICE = "service"
SIDECAR = "sidecar"
GATEWAY = "gateway"
DASHBOARD = "dashboard"
JAEGER = "jaeger"
PROMETHEUS = "prometheus"

#: Start order: a group starts once every component of the groups before it is healthy.
#: (The runner creates the Toxiproxy proxies right after group 0.)
#: Prometheus starts with the dashboard, once every proxy it scrapes is up.
START_GROUPS = {
    TOXIPROXY: 0,
    JAEGER: 0,
    CONTROLPLANE: 1,
    SERVICE: 2,
    SIDECAR: 3,
    GATEWAY: 4,
    DASHBOARD: 5,
    PROMETHEUS: 5,
}


@dataclass(frozen=True)
class Component:
    """One process of a topology."""

    name: str  # unique in the topology: catalog-1, sidecar-catalog-1, gateway
    kind: str  # toxiproxy | jaeger | controlplane | service | sidecar | gateway | dashboard | prometheus
    args: tuple[str, ...]  # arguments after ``python -m <module>`` or the program
    health_url: str  # 200 here means ready (Toxiproxy: /version)
    listen: Mapping[str, int]  # role -> port, e.g. {"port": 18000} or {"inbound": .., "outbound": ..}
    group: int  # start group, see START_GROUPS
    module: str | None = None  # Python components: the module run with ``python -m``
    program: str | None = None  # other components: the executable (toxiproxy-server)
    service: str | None = None  # the sample service this belongs to (apps and sidecars)
    instance: str | None = None  # the instance id (apps and sidecars): catalog-1
    address: str | None = None  # host:port other parts dial to reach it (its Toxiproxy proxy)
    proxy: str | None = None  # name of the Toxiproxy proxy in front of it
    env: Mapping[str, str] = field(default_factory=dict)  # extra environment variables

    def command(
        self,
        python: str = "python",
        toxiproxy: str = "toxiproxy-server",
        run_dir: str = RUN_DIR,
    ) -> list[str]:
        """The full command line; ``python``/``toxiproxy`` name the interpreter and server."""
        args = [a.replace(RUN_DIR, run_dir) for a in self.args]
        if self.module is not None:
            return [python, "-m", self.module, *args]
        program = toxiproxy if self.program == "toxiproxy-server" else self.program
        return [str(program), *args]

    def ports(self) -> tuple[int, ...]:
        return tuple(self.listen.values())


@dataclass(frozen=True)
class Proxy:
    """A Toxiproxy proxy: the wire into one instance, named after it."""

    name: str  # the instance id: catalog-1
    listen: str  # host:port Toxiproxy listens on (what the registry hands out)
    upstream: str  # host:port it forwards to (the app, or the app's sidecar inbound)

    def to_api(self) -> dict[str, Any]:
        """The body of Toxiproxy's ``POST /proxies``."""
        return {"name": self.name, "listen": self.listen, "upstream": self.upstream, "enabled": True}


@dataclass(frozen=True)
class Endpoints:
    """Where a client (or a test) talks to the running topology."""

    entry: str  # the URL a client starts from (gateway, or a storefront sidecar)
    gateway: str | None  # the gateway's edge listener, None without a gateway
    storefront: str  # base URL that answers GET /products/{id} with a composed page
    controlplane: str
    toxiproxy_api: str
    dashboard: str | None = None  # the live dashboard's page
    jaeger: str | None = None  # Jaeger's UI and query API, when the topology runs one
    prometheus: str | None = None  # Prometheus's UI and HTTP API, when the topology runs one
    gateway_admin: str | None = None  # the gateway's admin API (/-/policies, /-/upstreams, ...), None without one


@dataclass(frozen=True)
class Topology:
    name: str
    ports: PortPlan
    counts: Mapping[str, int]
    options: Mapping[str, Any]  # what build_topology was given besides name/ports/counts
    components: tuple[Component, ...]  # in start order
    proxies: tuple[Proxy, ...]
    endpoints: Endpoints
    api_key: str | None  # the demo key (None when nothing checks keys)
    gateway_config: Mapping[str, Any] | None  # the gateway's config, also in files["gateway.json"]
    apimgmt: Mapping[str, Any] | None  # PUT to the control plane's /v1/apimgmt after it is up
    files: Mapping[str, str] = field(default_factory=dict)  # run-dir relative name -> content

    def component(self, name: str) -> Component:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)

    def groups(self) -> list[list[Component]]:
        """Components by start group, in start order."""
        by_group: dict[int, list[Component]] = {}
        for c in self.components:
            by_group.setdefault(c.group, []).append(c)
        return [by_group[g] for g in sorted(by_group)]

    def instances(self, service: str | None = None) -> list[Component]:
        """App instances (kind ``service``), optionally of one service."""
        return [c for c in self.components if c.kind == SERVICE and (service is None or c.service == service)]

    def all_ports(self) -> dict[int, str]:
        """Every port this topology listens on -> who listens there."""
        owners: dict[int, str] = {}
        for c in self.components:
            for role, port in c.listen.items():
                owners[port] = f"{c.name} ({role})"
        for p in self.proxies:
            owners[int(p.listen.rsplit(":", 1)[1])] = f"toxiproxy proxy {p.name}"
        return owners

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, for a compose generator or ``--json`` output."""
        return json.loads(json.dumps(asdict(self)))
