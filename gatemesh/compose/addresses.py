"""Who listens where once a topology runs in containers, and how addresses are rewritten.

The topology definition speaks loopback only (``127.0.0.1:<port>``), because the process
runner runs every part on one host. In compose every part gets a network namespace of
its own, except a pod: an instance's app and its sidecar share the app container's
namespace (``network_mode: service:<app>``), so between them loopback stays right.

``Netns`` answers, for every port of the topology, which compose service's namespace
listens on it, and rewrites an address seen from one namespace:

- same namespace (the sidecar dialling its app, the app dialling its sidecar's outbound
  port): ``127.0.0.1:<port>`` stays as it is;
- another namespace: ``<service>:<port>``, the compose service name (Docker's DNS);
- a listen address: ``0.0.0.0:<port>`` (a port on 127.0.0.1 only is unreachable from
  the other containers).

A port the definition uses that no component owns raises ``TopologyError``: the
definition grew something this renderer does not know, and the compose files must not
silently carry a loopback address that leads nowhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from gatemesh.address import split_address
from gatemesh.topology import Topology, TopologyError
from gatemesh.topology.model import Component

ANY_HOST = "0.0.0.0"  # listen address inside a container

TOXIPROXY_SERVICE = "toxiproxy"


def namespace_of(component: Component) -> str:
    """The compose service whose network namespace ``component`` runs in."""
    if component.instance is not None:  # an app and its sidecar: the pod is the app's
        return component.instance
    return component.name


@dataclass(frozen=True)
class Netns:
    host: str  # the loopback host the definition uses (PortPlan.host)
    owners: Mapping[int, str]  # port -> compose service that listens there

    @classmethod
    def of(cls, topology: Topology) -> Netns:
        owners: dict[int, str] = {}
        for c in topology.components:
            for port in c.listen.values():
                owners[port] = namespace_of(c)
        for p in topology.proxies:
            owners[_port(p.listen)] = TOXIPROXY_SERVICE
        return cls(topology.ports.host, owners)

    def owner(self, port: int) -> str:
        try:
            return self.owners[port]
        except KeyError:
            raise TopologyError(
                f"compose: no component of the topology listens on port {port}; "
                "teach gatemesh/compose who does before rendering"
            ) from None

    def dial(self, address: str, seen_from: str) -> str:
        """``host:port`` as dialled from the namespace ``seen_from``."""
        host, port = _split(address)
        if host != self.host:
            return address
        owner = self.owner(port)
        return address if owner == seen_from else f"{owner}:{port}"

    def listen(self, address: str) -> str:
        _, port = _split(address)
        return f"{ANY_HOST}:{port}"

    def rewrite(self, text: str, seen_from: str) -> str:
        """Every ``127.0.0.1:<port>`` inside ``text`` (an argument, a URL) dialled from ``seen_from``."""
        pattern = re.compile(re.escape(self.host) + r":(\d+)")
        return pattern.sub(lambda m: self.dial(m.group(0), seen_from), text)


def _split(address: str) -> tuple[str, int]:
    try:
        return split_address(address)
    except ValueError as exc:
        raise TopologyError(f"compose: {exc}") from None


def _port(address: str) -> int:
    return _split(address)[1]
